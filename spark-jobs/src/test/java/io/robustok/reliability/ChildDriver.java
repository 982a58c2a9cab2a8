package io.robustok.reliability;

import io.robustok.spark.SparkRuntime;
import io.robustok.train.LocalStandaloneCluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A stage run as a user runs it, through the CLI in a JVM of its own ({@code java ... io.robustok.cli.Main stage
 * key=value ...}), so that a test can kill the driver with SIGKILL. Output and log go to one file.
 * With {@link #pauseAt} the process (or, with {@code spark.executorEnv}, an executor) freezes at a
 * {@link io.robustok.spark.FaultPoint} and announces its pid in a marker file.
 */
final class ChildDriver implements AutoCloseable {
    private final Process process;
    private final Path log;

    private ChildDriver(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts {@code robustok <args>} with extra environment variables {@code env}. */
    static ChildDriver start(Path log, Map<String, String> env, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx1500m");
        cmd.addAll(List.of(SparkRuntime.JAVA17_OPENS.split(" ")));
        cmd.add("-cp");
        cmd.add(LocalStandaloneCluster.classPath());
        cmd.add("io.robustok.cli.Main");
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().remove("ROBUSTOK_FAULT_PAUSE");
        pb.environment().remove("ROBUSTOK_FAULT_MARKER");
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Files.writeString(log, "\n=== robustok " + String.join(" ", args.subList(0, 1)) + " " + env + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        return new ChildDriver(pb.start(), log);
    }

    /** The environment that freezes the driver at the {@code n}-th time it reaches {@code point}. */
    static Map<String, String> pauseAt(String point, int n, Path marker) {
        return Map.of("ROBUSTOK_FAULT_PAUSE", point + "@" + n, "ROBUSTOK_FAULT_MARKER", marker.toString());
    }

    /** The settings that freeze an executor at the {@code n}-th time it reaches {@code point}. */
    static List<String> executorPauseAt(String point, int n, Path marker) {
        return List.of("spark.conf.\"spark.executorEnv.ROBUSTOK_FAULT_PAUSE\"=\"" + point + "@" + n + "\"",
                "spark.conf.\"spark.executorEnv.ROBUSTOK_FAULT_MARKER\"=\"" + marker + "\"");
    }

    long pid() {
        return process.pid();
    }

    /** Runs to the end; the exit code. */
    int waitFor(long minutes) throws Exception {
        if (!process.waitFor(minutes, TimeUnit.MINUTES)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("robustok did not finish within " + minutes + " min\n" + tail());
        }
        return process.exitValue();
    }

    /** Waits until some process froze at the fault point; returns its pid (from the marker). */
    long awaitMarker(Path marker, long minutes) throws Exception {
        long end = System.currentTimeMillis() + TimeUnit.MINUTES.toMillis(minutes);
        while (System.currentTimeMillis() < end) {
            if (Files.exists(marker)) {
                String s = Files.readString(marker).trim();
                if (!s.isEmpty()) return Long.parseLong(s);
            }
            if (!process.isAlive()) {
                throw new AssertionError("robustok exited (" + process.exitValue() + ") before reaching the fault point\n" + tail());
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no process reached the fault point within " + minutes + " min\n" + tail());
    }

    /** SIGKILL to the driver (Process.destroyForcibly is kill -9 on Unix), and waits until it is gone. */
    void kill9() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    /** SIGKILL to another process (an executor), and waits until it is gone. */
    static void kill9(long pid) throws InterruptedException {
        ProcessHandle h = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("process " + pid + " is not running"));
        h.destroyForcibly();
        long end = System.currentTimeMillis() + 30_000;
        while (h.isAlive() && System.currentTimeMillis() < end) Thread.sleep(50);
        if (h.isAlive()) throw new AssertionError("process " + pid + " survived SIGKILL");
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    String tail() throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) process.destroyForcibly().waitFor();
    }
}
