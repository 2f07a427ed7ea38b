package io.pgdurable.db;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.postgresql.PGProperty;

/**
 * A pgjdbc socket factory whose sockets run a callback whenever bytes arrive, before the driver
 * parses them. For a connection that only LISTENs, arriving bytes are notifications, and the
 * callback hears of them at once: pgjdbc's {@code getNotifications(timeout)} returns about a
 * millisecond after a notification arrived, because before returning it waits that long for
 * more (a one-millisecond read), which was the largest single wait between a {@code df.start}
 * and the worker's first turn.
 *
 * <p>pgjdbc instantiates the class by name, with the connection's properties: {@link #register}
 * returns the key to set as {@link #ARG_PROPERTY}, {@link #unregister} forgets it.
 */
public final class ArrivalSocketFactory extends UnconnectedSocketFactory {
    /** The pgjdbc connection property naming the factory class. */
    public static final String FACTORY_PROPERTY = PGProperty.SOCKET_FACTORY.getName();
    /** The connection property that carries the callback's key to the factory's constructor. */
    public static final String ARG_PROPERTY = "pgDurableArrivalKey";

    private static final Map<String, Runnable> CALLBACKS = new ConcurrentHashMap<>();

    private final Runnable onArrival;

    /** Called by pgjdbc with the connection's properties, {@link #ARG_PROPERTY} among them. */
    public ArrivalSocketFactory(Properties info) {
        String key = info == null ? null : info.getProperty(ARG_PROPERTY);
        Runnable callback = key == null ? null : CALLBACKS.get(key);
        this.onArrival = callback == null ? () -> { } : callback;
    }

    /** Registers {@code onArrival}; returns the key to pass as {@link #ARG_PROPERTY}. */
    public static String register(Runnable onArrival) {
        String key = UUID.randomUUID().toString();
        CALLBACKS.put(key, Objects.requireNonNull(onArrival, "onArrival"));
        return key;
    }

    /** Forgets the callback of {@code key}; sockets made with it keep theirs. */
    public static void unregister(String key) {
        if (key != null) {
            CALLBACKS.remove(key);
        }
    }

    @Override
    public Socket createSocket() {
        return new ArrivalSocket(onArrival);
    }

    /** A plain socket whose input stream runs the callback after every read that returned bytes. */
    private static final class ArrivalSocket extends Socket {
        private final Runnable onArrival;
        private InputStream input;

        ArrivalSocket(Runnable onArrival) {
            this.onArrival = onArrival;
        }

        @Override
        public synchronized InputStream getInputStream() throws IOException {
            if (input == null) {
                input = new FilterInputStream(super.getInputStream()) {
                    @Override
                    public int read() throws IOException {
                        int b = super.read();
                        if (b >= 0) {
                            onArrival.run();
                        }
                        return b;
                    }

                    @Override
                    public int read(byte[] buffer, int offset, int length) throws IOException {
                        int n = super.read(buffer, offset, length);
                        if (n > 0) {
                            onArrival.run();
                        }
                        return n;
                    }
                };
            }
            return input;
        }
    }
}
