package io.pgdurable.worker;

import io.pgdurable.engine.replay.ReplaySession;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Suspended orchestration sessions by instance id, least recently used evicted first. A session
 * is taken out while a turn uses it and put back only after the turn committed, so a failed
 * turn never leaves a session ahead of the stored history. Of two sessions of one generation put
 * back, the one that has applied more of the history stays.
 *
 * <p>Only sessions whose next turn is near are kept: those waiting for an activity (the short
 * path needs them when it completes) or for a timer due within {@link #KEEP_HORIZON}. A suspended
 * session holds a parked thread and its stack; a worker with ten thousand instances waiting on
 * signals kept a thousand of them, some 300 MB, to save each a replay it may need hours later.
 */
final class SessionCache {
    /** How soon a timer must fire for a session waiting on it to be kept. */
    static final Duration KEEP_HORIZON = Duration.ofMinutes(1);

    private final int capacity;
    private final LinkedHashMap<String, ReplaySession> sessions = new LinkedHashMap<>(16, 0.75f, true);

    SessionCache(int capacity) {
        this.capacity = capacity;
    }

    synchronized ReplaySession take(String instanceId) {
        return sessions.remove(instanceId);
    }

    void put(ReplaySession session) {
        if (capacity == 0 || !session.isReusable() || !session.expectsTurnWithin(KEEP_HORIZON)) {
            session.close();
            return;
        }
        ReplaySession evicted = null;
        synchronized (this) {
            ReplaySession previous = sessions.get(session.instanceId());
            if (previous != null && previous != session && previous.executionId() == session.executionId()
                    && previous.eventsApplied() > session.eventsApplied()) {
                // Two turns' sessions of one instance (one replayed while the other was out):
                // keep the one that has seen more of the history, so the short path finds it.
                session.close();
                return;
            }
            sessions.put(session.instanceId(), session);
            if (previous != null && previous != session) {
                previous.close();
            }
            if (sessions.size() > capacity) {
                Iterator<Map.Entry<String, ReplaySession>> eldest = sessions.entrySet().iterator();
                evicted = eldest.next().getValue();
                eldest.remove();
            }
        }
        if (evicted != null) {
            evicted.close();
        }
    }

    synchronized int size() {
        return sessions.size();
    }

    synchronized void clear() {
        sessions.values().forEach(ReplaySession::close);
        sessions.clear();
    }
}
