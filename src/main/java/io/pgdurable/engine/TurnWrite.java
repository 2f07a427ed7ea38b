package io.pgdurable.engine;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * A write an orchestration attaches to the current turn: it runs on the turn's connection and
 * commits atomically with the turn's history. It runs only for decisions made for the first
 * time, never during replay.
 */
@FunctionalInterface
public interface TurnWrite {
    void apply(Connection connection) throws SQLException;
}
