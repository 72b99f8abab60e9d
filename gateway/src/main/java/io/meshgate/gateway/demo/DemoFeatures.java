package io.meshgate.gateway.demo;

/**
 * Which data-path features this build's gateway has, so the demo writes a config the build
 * accepts while terminate mode and remote clusters are landing; a missing feature fails its steps.
 */
record DemoFeatures(boolean terminate, boolean multicluster) {

    static DemoFeatures current() {
        return new DemoFeatures(false, true);
    }
}
