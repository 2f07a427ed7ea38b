package io.pgdurable.engine;

import java.time.Duration;

/** An external-event wait whose timeout elapsed before a matching event arrived. */
public final class EventWaitTimeoutException extends TaskFailedException {
    private final String eventName;

    public EventWaitTimeoutException(String eventName, Duration timeout) {
        super(new FailureDetails("Timeout", "no event '" + eventName + "' arrived within " + timeout));
        this.eventName = eventName;
    }

    public String eventName() {
        return eventName;
    }
}
