package io.pgdurable.engine;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamWriteConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * The single JSON mapper used for payloads in history, queues and results, and for every other
 * JSON pg_durable reads or writes.
 *
 * <p>Numbers are exact: a JSON number with a fraction or an exponent is read as a
 * {@link java.math.BigDecimal} (kept as written, trailing zeros too), an integer too large for a
 * {@code long} as a {@link java.math.BigInteger}; nothing becomes a {@code double} on the way, so
 * {@code 12345678901234567890.123456789012345} stays that and {@code 1e400} stays {@code 1E+400}.
 *
 * <p>Its read and write constraints are set explicitly from {@link Limits}, so whatever the
 * engine's checks let through can be read back: {@value Limits#READ_MAX_DEPTH} levels of nesting,
 * strings and keys as long as a {@code jsonb} value can be, numbers of up to
 * {@value Limits#READ_MAX_NUMBER_LENGTH} characters, documents of any length.
 *
 * <p>Field names are neither interned nor kept in the factory's shared symbol table. A df graph's
 * input is keyed by random node ids, new with every instance: interning them filled Jackson's
 * intern cache, which empties itself when full, and grew and rehashed the symbol table, so a
 * 19-node graph took about 37 µs to read instead of 10; payloads with the same few names every
 * time read as fast either way (docs/benchmarks.md, 2026-12-05, fifth).
 */
public final class JsonCodec {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(Limits.READ_MAX_DEPTH)
                    .maxStringLength(Limits.MAX_BYTES)
                    .maxNameLength(Limits.MAX_BYTES)
                    .maxNumberLength(Limits.READ_MAX_NUMBER_LENGTH)
                    .maxDocumentLength(-1)
                    .build())
            .streamWriteConstraints(StreamWriteConstraints.builder()
                    .maxNestingDepth(Limits.READ_MAX_DEPTH)
                    .build())
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.withExactBigDecimals(true);
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY)
            .setNodeFactory(NODES)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .findAndRegisterModules();

    private JsonCodec() {
    }

    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** The node factory for building results: decimals are kept exactly as given. */
    public static JsonNodeFactory nodes() {
        return NODES;
    }

    /**
     * Serialises a value; {@code null} becomes JSON {@code null}. JSON trees go through this
     * mapper too: {@link JsonNode#toString()} uses Jackson's default write constraints, which
     * refuse more than 1,000 levels.
     */
    public static String toJson(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (StreamConstraintsException e) {
            throw new JsonLimitException("cannot write JSON: " + e.getOriginalMessage() + "; " + READABLE, e);
        } catch (JsonProcessingException e) {
            throw new DurableException("cannot serialise " + value.getClass().getName() + " to JSON: "
                    + e.getOriginalMessage(), e);
        }
    }

    /** Reads a payload as the given type; a SQL NULL or JSON {@code null} payload gives {@code null}. */
    public static <T> T fromJson(String json, Class<T> type) {
        return fromJson(json, MAPPER.constructType(type));
    }

    public static <T> T fromJson(String json, JavaType type) {
        if (json == null) {
            return null;
        }
        try {
            if (type.getRawClass() == JsonNode.class) {
                @SuppressWarnings("unchecked")
                T tree = (T) MAPPER.readTree(json);
                return tree;
            }
            return MAPPER.readValue(json, type);
        } catch (StreamConstraintsException e) {
            throw new JsonLimitException("cannot read JSON payload as " + type + ": " + e.getOriginalMessage()
                    + "; " + READABLE, e);
        } catch (JsonProcessingException e) {
            throw new DurableException("cannot read JSON payload as " + type + ": " + e.getOriginalMessage(), e);
        }
    }

    public static JsonNode tree(String json) {
        return fromJson(json, JsonNode.class);
    }

    private static final String READABLE = "pg_durable reads and writes JSON nested at most " + Limits.READ_MAX_DEPTH
            + " levels deep, with numbers of at most " + Limits.READ_MAX_NUMBER_LENGTH + " characters";
}
