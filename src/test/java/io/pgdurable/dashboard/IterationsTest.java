package io.pgdurable.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Loop iterations read from the nodes' generation stamps. */
class IterationsTest {

    @Test
    void a_node_in_a_loop_has_the_loops_generation_and_the_loop_the_highest_seen() {
        Map<String, String> types = Map.of("loop1", "LOOP", "body", "SQL", "old", "SQL", "top", "SQL");
        Map<String, String> stamps = new HashMap<>();
        stamps.put("body", "ab12cd34::1::loop1::5");
        stamps.put("old", "ab12cd34::1::loop1::3");
        stamps.put("top", "ab12cd34::1");
        stamps.put("loop1", "ab12cd34::1");
        Map<String, Integer> it = Iterations.of(stamps, types, "top");
        assertThat(it).containsEntry("body", 5).containsEntry("old", 3).containsEntry("loop1", 5)
                .doesNotContainKey("top");
    }

    @Test
    void the_innermost_loop_counts_and_branches_are_not_loops() {
        Map<String, String> types = Map.of("outer", "LOOP", "inner", "LOOP", "br", "SQL", "x", "SQL");
        Map<String, Integer> it = Iterations.of(Map.of("x", "ab12cd34::1::outer::2::br::1::inner::7"), types, "br");
        assertThat(it).containsEntry("x", 7).containsEntry("outer", 2).containsEntry("inner", 7);
    }

    @Test
    void a_root_loops_iteration_is_the_instances_generation() {
        Map<String, String> types = Map.of("root", "LOOP", "body", "SQL", "inner", "LOOP", "deep", "SQL");
        Map<String, Integer> it = Iterations.of(Map.of("body", "ab12cd34::4", "deep", "ab12cd34::4::inner::2"),
                types, "root");
        assertThat(it).containsEntry("root", 4).containsEntry("body", 4).containsEntry("inner", 2)
                .containsEntry("deep", 2);
        assertThat(Iterations.of(Map.of("body", "ab12cd34::4"), Map.of("root", "THEN", "body", "SQL"), "root"))
                .as("a root that is no loop has no iterations").isEmpty();
    }

    @Test
    void malformed_stamps_are_ignored() {
        Map<String, String> types = Map.of("l", "LOOP", "x", "SQL");
        assertThat(Iterations.of(Map.of("x", "ab12cd34::1::l::-3"), types, "x")).isEmpty();
        assertThat(Iterations.of(Map.of("x", "ab12cd34::1::l::99999999999"), types, "x")).isEmpty();
        assertThat(Iterations.of(Map.of("x", "::::"), types, "x")).isEmpty();
    }
}
