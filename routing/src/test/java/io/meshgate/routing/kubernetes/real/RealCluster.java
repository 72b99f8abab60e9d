package io.meshgate.routing.kubernetes.real;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs the test class against real Kubernetes control planes (etcd, kube-apiserver with RBAC,
 * kube-controller-manager, kube-scheduler, kwok) started by {@code deploy/test/control-plane} before
 * the first test and stopped after the last. Tests and {@code @BeforeAll} methods take a
 * {@link ControlPlane} parameter (the first plane) or {@link ControlPlanes} (all of them).
 *
 * <p>Skipped, with the reason, only where the machine cannot run them: no Go to build the
 * binaries, or not root (network namespaces). With {@code MESHGATE_REQUIRE_REAL_CLUSTER=1} in the
 * environment (CI sets it) a missing prerequisite fails the class instead.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RealClusterExtension.class)
public @interface RealCluster {

    /** How many control planes (one per cluster): 1 or 2. */
    int count() default 1;

    /**
     * Whether kube-apiserver also serves {@code certificates.k8s.io/v1beta1} ClusterTrustBundles
     * ({@code control-plane up --cluster-trust-bundles}: beta, off by default in Kubernetes 1.36).
     */
    boolean clusterTrustBundles() default false;
}
