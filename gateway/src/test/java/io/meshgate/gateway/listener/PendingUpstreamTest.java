package io.meshgate.gateway.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.testing.UnhandledExceptions;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.channels.NotYetConnectedException;
import org.junit.jupiter.api.Test;

/** An upstream's exceptions before the relay starts end at meshgate's handler, never the pipeline tail. */
@org.junit.jupiter.api.extension.ExtendWith(io.meshgate.gateway.testing.UnhandledExceptions.class)
class PendingUpstreamTest {

    @Test
    void anExceptionBeforeTheRelayClosesTheUpstreamAndStopsThere() {
        EmbeddedChannel upstream = new EmbeddedChannel(UpstreamConnector.PendingUpstream.INSTANCE);
        upstream.pipeline().fireExceptionCaught(new NotYetConnectedException());
        assertThat(upstream.isOpen()).isFalse();
        upstream.checkException(); // EmbeddedChannel rethrows what reached its tail: nothing did
        assertThat(UnhandledExceptions.seen()).isEmpty();
    }

    @Test
    void theTailCheckSeesAnExceptionNoHandlerTook() throws InterruptedException {
        EmbeddedChannel bare = new EmbeddedChannel();
        bare.pipeline().fireExceptionCaught(new NotYetConnectedException());
        // EmbeddedChannel records instead of logging; a real channel logs Netty's tail warning, which the check reads.
        org.assertj.core.api.Assertions.assertThatThrownBy(bare::checkException).isInstanceOf(NotYetConnectedException.class);
        Thread gatewayLoop = new Thread(() -> org.slf4j.LoggerFactory.getLogger(io.netty.channel.DefaultChannelPipeline.class)
                .warn("An exceptionCaught() event was fired, and it reached at the tail of the pipeline. (probe)"), "meshgate-probe");
        gatewayLoop.start();
        gatewayLoop.join();
        assertThat(UnhandledExceptions.seen()).hasSize(1);
        UnhandledExceptions.clear();
        bare.finishAndReleaseAll();
    }
}
