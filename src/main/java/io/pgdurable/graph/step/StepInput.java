package io.pgdurable.graph.step;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.pgdurable.graph.sql.BindValue;
import io.pgdurable.graph.sql.PreparedSql;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * What a SQL step activity needs: the statement after substitution, its bind values, and whom
 * and where to run it as. Built by the graph orchestration, so it is part of history.
 */
public record StepInput(@JsonProperty("instance_id") String instanceId,
                        @JsonProperty("node_id") String nodeId,
                        @JsonProperty("role") String role,
                        @JsonProperty("role_oid") Long roleOid,
                        @JsonProperty("database") String database,
                        @JsonProperty("sql") String sql,
                        @JsonProperty("params") List<Param> params) {

    /** A bind value in a form that survives JSON exactly: its type and its text. */
    public record Param(@JsonProperty("type") BindValue.Type type, @JsonProperty("text") String text) {

        static Param of(BindValue v) {
            return new Param(v.type(), v.value() == null ? null : v.value().toString());
        }

        BindValue toBindValue() {
            return switch (type) {
                case UNTYPED_TEXT -> BindValue.text(text);
                case LITERAL_TEXT -> BindValue.literalText(text);
                case INTEGER -> new BindValue(type, Integer.valueOf(text));
                case BIGINT -> new BindValue(type, Long.valueOf(text));
                case NUMERIC -> new BindValue(type, new BigDecimal(text));
                case BOOLEAN -> new BindValue(type, Boolean.valueOf(text));
                case NULL -> BindValue.sqlNull();
            };
        }
    }

    public static List<Param> params(PreparedSql prepared) {
        List<Param> out = new ArrayList<>(prepared.params().size());
        prepared.params().forEach(v -> out.add(Param.of(v)));
        return out;
    }

    PreparedSql prepared() {
        List<BindValue> values = new ArrayList<>(params == null ? 0 : params.size());
        if (params != null) {
            params.forEach(p -> values.add(p.toBindValue()));
        }
        return new PreparedSql(sql, values);
    }
}
