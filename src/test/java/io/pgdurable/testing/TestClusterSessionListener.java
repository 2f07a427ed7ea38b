package io.pgdurable.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Stops the shared {@link TestCluster} when the JUnit Platform launcher session ends, which is when
 * the test run ends, whether its tests passed or not. Registered through
 * {@code META-INF/services/org.junit.platform.launcher.LauncherSessionListener}.
 */
public final class TestClusterSessionListener implements LauncherSessionListener {

    @Override
    public void launcherSessionClosed(LauncherSession session) {
        TestCluster.stopIfStarted();
    }
}
