package io.meshgate.gateway.direct;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.Test;

/** The Netty natives the direct path calls are there in the Netty this build pins (else listeners keep their pipelines). */
class RawSocketTest {

    @Test
    void theNativesOfThePinnedNettyAreReachable() {
        Epoll.ensureAvailability(); // loads them, as the epoll transport does before any listener
        assertThat(RawSocket.unavailable()).isNull();
    }
}
