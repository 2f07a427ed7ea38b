package io.pgdurable.engine;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Orchestrations and activities by name, as a worker knows them. */
public final class Registry {
    private final Map<String, Orchestration> orchestrations = new ConcurrentHashMap<>();
    private final Map<String, Activity> activities = new ConcurrentHashMap<>();

    public Registry orchestration(String name, Orchestration orchestration) {
        put(orchestrations, "orchestration", name, orchestration);
        return this;
    }

    public Registry activity(String name, Activity activity) {
        put(activities, "activity", name, activity);
        return this;
    }

    public Optional<Orchestration> findOrchestration(String name) {
        return Optional.ofNullable(orchestrations.get(name));
    }

    public Optional<Activity> findActivity(String name) {
        return Optional.ofNullable(activities.get(name));
    }

    private static <T> void put(Map<String, T> map, String kind, String name, T value) {
        Objects.requireNonNull(value, kind);
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException(kind + " name must not be blank");
        }
        if (map.putIfAbsent(name, value) != null) {
            throw new IllegalArgumentException(kind + " '" + name + "' is already registered");
        }
    }
}
