package io.pgdurable.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The listener's sockets report arriving bytes before anyone parses them. */
class ArrivalSocketFactoryTest {

    private static Properties withKey(String key) {
        Properties info = new Properties();
        info.setProperty(ArrivalSocketFactory.ARG_PROPERTY, key);
        return info;
    }

    @Test
    void every_read_that_returns_bytes_runs_the_callback() throws Exception {
        AtomicInteger arrivals = new AtomicInteger();
        String key = ArrivalSocketFactory.register(arrivals::incrementAndGet);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new ArrivalSocketFactory(withKey(key)).createSocket()) {
            client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()));
            try (Socket accepted = server.accept()) {
                OutputStream out = accepted.getOutputStream();
                InputStream in = client.getInputStream();
                assertThat(arrivals.get()).as("nothing has arrived yet").isZero();

                out.write(new byte[] {1, 2, 3});
                out.flush();
                byte[] buffer = new byte[3];
                int read = 0;
                while (read < 3) {
                    read += in.read(buffer, read, 3 - read);
                }
                int afterBlock = arrivals.get();
                assertThat(afterBlock).as("reads of a block").isBetween(1, 3);

                out.write(4);
                out.flush();
                assertThat(in.read()).isEqualTo(4);
                assertThat(arrivals.get()).as("a single-byte read").isEqualTo(afterBlock + 1);

                accepted.shutdownOutput();
                assertThat(in.read()).as("end of stream").isEqualTo(-1);
                assertThat(arrivals.get()).as("the end of the stream is no arrival").isEqualTo(afterBlock + 1);
            }
        } finally {
            ArrivalSocketFactory.unregister(key);
        }
    }

    @Test
    void a_factory_made_after_unregister_or_without_a_key_runs_nothing() throws Exception {
        AtomicInteger arrivals = new AtomicInteger();
        String key = ArrivalSocketFactory.register(arrivals::incrementAndGet);
        ArrivalSocketFactory.unregister(key);
        for (ArrivalSocketFactory factory : new ArrivalSocketFactory[] {
                new ArrivalSocketFactory(withKey(key)), new ArrivalSocketFactory(new Properties())}) {
            try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                 Socket client = factory.createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort());
                 Socket accepted = server.accept()) {
                accepted.getOutputStream().write(7);
                accepted.getOutputStream().flush();
                assertThat(client.getInputStream().read()).isEqualTo(7);
            }
        }
        assertThat(arrivals.get()).isZero();
    }
}
