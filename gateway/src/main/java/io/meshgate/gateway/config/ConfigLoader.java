package io.meshgate.gateway.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads {@code meshgate.yaml} strictly: unknown keys and wrong types are errors that name the key. */
public final class ConfigLoader {

    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .build();

    private ConfigLoader() {}

    /** Parses and validates the file; {@link ConfigException} names the file and key on any mistake. */
    public static MeshgateConfig load(Path file) {
        String text = read(file);
        try {
            return parse(text).validate(file);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    /** Parses the file and binds it into what the gateway runs from; errors as {@link #load(Path)}. */
    public static GatewaySpec loadSpec(Path file) {
        String text = read(file);
        try {
            return ConfigBinder.bind(parse(text), file);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Parses YAML text without validating it. */
    public static MeshgateConfig parse(String yaml) {
        try {
            MeshgateConfig config = MAPPER.readValue(yaml, MeshgateConfig.class);
            if (config == null) {
                throw new ConfigException("the file is empty");
            }
            return config;
        } catch (UnrecognizedPropertyException e) {
            throw new ConfigException(path(e) + ": unknown key '" + e.getPropertyName() + "'");
        } catch (JsonMappingException e) {
            throw new ConfigException(path(e) + ": " + e.getOriginalMessage().replaceAll("\\s*\\(class [^)]*\\)", ""));
        } catch (JsonProcessingException e) {
            throw new ConfigException("not valid YAML: " + e.getOriginalMessage());
        }
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            } else if (r.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(r.getFieldName());
            }
        }
        return sb.length() == 0 ? "(top level)" : sb.toString();
    }
}
