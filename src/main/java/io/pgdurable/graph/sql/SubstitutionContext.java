package io.pgdurable.graph.sql;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a step's placeholders can refer to: the user variables snapshotted at {@code df.start}
 * ({@code {name}}), the instance id and label ({@code {sys_instance_id}}, {@code {sys_label}}), and
 * the named results stored so far ({@code $name}). The maps are copied: later changes to the
 * caller's maps do not show.
 *
 * @param vars       user variables; entries with a null value are dropped
 * @param instanceId the df instance id
 * @param label      the instance label, or null ({@code {sys_label}} then becomes the empty string)
 * @param results    named results: a SQL step's {@code {"rows":[...],"row_count":N}} or any JSON
 *                   another node produced; a null value is kept as JSON null
 */
public record SubstitutionContext(Map<String, String> vars, String instanceId, String label,
                                  Map<String, JsonNode> results) {

    public SubstitutionContext {
        Objects.requireNonNull(instanceId, "instanceId");
        Map<String, String> v = new LinkedHashMap<>();
        if (vars != null) {
            vars.forEach((k, value) -> {
                if (k != null && value != null) {
                    v.put(k, value);
                }
            });
        }
        Map<String, JsonNode> r = new LinkedHashMap<>();
        if (results != null) {
            results.forEach((k, value) -> {
                if (k != null && !k.isEmpty()) {
                    r.put(k, value == null ? NullNode.getInstance() : value.deepCopy());
                }
            });
        }
        vars = Collections.unmodifiableMap(v);
        results = Collections.unmodifiableMap(r);
    }

    /** A context with variables and sys values but no named results yet. */
    public static SubstitutionContext of(Map<String, String> vars, String instanceId, String label) {
        return new SubstitutionContext(vars, instanceId, label, Map.of());
    }

    /** This context with {@code results} in place of the current named results. */
    public SubstitutionContext withResults(Map<String, JsonNode> newResults) {
        return new SubstitutionContext(vars, instanceId, label, newResults);
    }
}
