package io.pgdurable.testing;

import io.pgdurable.db.UnconnectedSocketFactory;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.postgresql.PGProperty;

/**
 * A pgjdbc socket factory whose sockets count the driver's flushes. pgjdbc buffers what it sends
 * and flushes once when it is about to wait for the server, so the count is the number of round
 * trips the connection started.
 *
 * <p>pgjdbc instantiates the class by name, with the connection's properties: {@link #counted}
 * returns properties that name the class and the counter.
 */
public final class FlushCountingSocketFactory extends UnconnectedSocketFactory {
    private static final String KEY_PROPERTY = "pgDurableFlushCounterKey";
    private static final Map<String, AtomicInteger> COUNTERS = new ConcurrentHashMap<>();

    private final AtomicInteger flushes;

    /** Called by pgjdbc with the connection's properties. */
    public FlushCountingSocketFactory(Properties info) {
        String key = info == null ? null : info.getProperty(KEY_PROPERTY);
        AtomicInteger counter = key == null ? null : COUNTERS.get(key);
        this.flushes = counter == null ? new AtomicInteger() : counter;
    }

    /** Connection properties (user {@code user}) under which {@code flushes} counts the connection's flushes. */
    public static Properties counted(String user, AtomicInteger flushes) {
        String key = UUID.randomUUID().toString();
        COUNTERS.put(key, flushes);
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty(PGProperty.SOCKET_FACTORY.getName(), FlushCountingSocketFactory.class.getName());
        props.setProperty(KEY_PROPERTY, key);
        return props;
    }

    @Override
    public Socket createSocket() {
        return new CountingSocket(flushes);
    }

    /** A plain socket whose output stream counts its flushes. */
    private static final class CountingSocket extends Socket {
        private final AtomicInteger flushes;
        private OutputStream output;

        CountingSocket(AtomicInteger flushes) {
            this.flushes = flushes;
        }

        @Override
        public synchronized OutputStream getOutputStream() throws IOException {
            if (output == null) {
                output = new FilterOutputStream(super.getOutputStream()) {
                    @Override
                    public void write(byte[] bytes, int offset, int length) throws IOException {
                        out.write(bytes, offset, length);
                    }

                    @Override
                    public void flush() throws IOException {
                        flushes.incrementAndGet();
                        super.flush();
                    }
                };
            }
            return output;
        }
    }
}
