package io.meshgate.deploy;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Runs a check against every rendering a user may apply: the Kustomize base and both example
 * overlays, and the Helm chart with its defaults and with both example clusters' values
 * ({@link RenderedManifests#of} knows the names).
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@ParameterizedTest(name = "{0}")
@ValueSource(strings = {"base", "overlays/cluster-a", "overlays/cluster-b", "helm", "helm/cluster-a", "helm/cluster-b"})
@interface EveryRendering {}
