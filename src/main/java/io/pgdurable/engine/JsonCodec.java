package io.pgdurable.engine;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The single JSON mapper used for payloads in history, queues and results. */
public final class JsonCodec {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .findAndRegisterModules();

    private JsonCodec() {
    }

    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** Serialises a value; {@code null} becomes JSON {@code null}. */
    public static String toJson(Object value) {
        if (value instanceof JsonNode node) {
            return node.toString();
        }
        try {
            return MAPPER.writeValueAsString(value);
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
        } catch (JsonProcessingException e) {
            throw new DurableException("cannot read JSON payload as " + type + ": " + e.getOriginalMessage(), e);
        }
    }

    public static JsonNode tree(String json) {
        return fromJson(json, JsonNode.class);
    }
}
