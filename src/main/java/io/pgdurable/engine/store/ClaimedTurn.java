package io.pgdurable.engine.store;

import java.util.List;

/** An instance locked for a turn, with the messages taken for it (possibly none). */
public record ClaimedTurn(InstanceRow row, List<Message> messages) {
}
