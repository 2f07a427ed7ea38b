package io.pgdurable.upgrade;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgdurable.testing.Processes;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The release fixture refuses, saying what to fetch, a checkout without the release's history. */
class ReleaseJarTest {

    @Test
    void a_clone_without_the_release_tag_or_commit_fails_naming_both_and_how_to_fetch_them(@TempDir Path dir) {
        Path clone = dir.resolve("clone");
        Processes.runOrFail(Duration.ofMinutes(1), List.of("git", "init", "-q", clone.toString()));

        assertThatThrownBy(() -> ReleaseJar.V0_1_0.buildOrReuse(clone, dir.resolve("target")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("git tag v0.1.0")
                .hasMessageContaining("df406417b7946bec4f0309ed743558ed78e62d8e")
                .hasMessageContaining("git fetch --tags");
    }
}
