package io.pgdurable.dashboard;

/** A request the dashboard refuses or cannot answer: the HTTP status and a message for the person. */
final class DashboardException extends RuntimeException {

    private final int status;

    DashboardException(int status, String message) {
        super(message);
        this.status = status;
    }

    int status() {
        return status;
    }
}
