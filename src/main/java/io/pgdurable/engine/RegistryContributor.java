package io.pgdurable.engine;

import java.util.ServiceLoader;

/**
 * Adds orchestrations and activities to a worker's registry. Implementations are found with
 * {@link ServiceLoader}: list the class in {@code META-INF/services/io.pgdurable.engine.RegistryContributor}
 * of a jar on the worker's class path, and {@code java -cp pg-durable.jar:mine.jar
 * io.pgdurable.cli.Main worker ...} runs your own orchestrations next to the built-in ones.
 */
public interface RegistryContributor {

    void contribute(Registry registry);

    /** A registry holding everything every contributor on the class path registers. */
    static Registry discover() {
        Registry registry = new Registry();
        for (RegistryContributor contributor : ServiceLoader.load(RegistryContributor.class)) {
            contributor.contribute(registry);
        }
        return registry;
    }
}
