package io.meshgate.gateway.cli;

import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewaySpec;
import java.net.BindException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/**
 * {@code meshgate run --config FILE}: runs the gateway in the foreground until SIGTERM/SIGINT,
 * then drains (readiness 503, stop accepting, up to timeouts.drain) and exits 0.
 */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Runs the gateway in the foreground.")
public final class RunCommand implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "meshgate.yaml")
    Path config;

    @Override
    public Integer call() throws Exception {
        GatewaySpec spec = ConfigLoader.loadSpec(config);
        ListenAddresses.checkFree(spec);
        Gateway gateway = new Gateway(spec);
        CountDownLatch stopped = new CountDownLatch(1);
        Runnable drain = () -> {
            log.info("signal received: draining (up to {})", spec.timeouts().drain());
            gateway.drain();
            stopped.countDown();
        };
        // Handle the signals ourselves: a drained gateway exits 0 (README "CLI"), not 143.
        Signal.handle(new Signal("TERM"), s -> new Thread(drain, "meshgate-drain").start());
        Signal.handle(new Signal("INT"), s -> new Thread(drain, "meshgate-drain").start());
        try {
            gateway.start();
        } catch (Exception e) {
            gateway.close();
            if (e instanceof BindException || e.getCause() instanceof BindException) {
                throw new IllegalStateException("cannot bind: " + e.getMessage(), e);
            }
            throw e;
        }
        stopped.await();
        return Main.EXIT_OK;
    }
}
