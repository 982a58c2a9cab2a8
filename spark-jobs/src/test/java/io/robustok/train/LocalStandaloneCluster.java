package io.robustok.train;

import io.robustok.spark.SparkRuntime;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A Spark standalone cluster on 127.0.0.1 made of separate JVMs started from this JVM's own classpath: one
 * Master and {@code n} Workers of {@code cores} cores each. Executors get the same classpath through
 * spark.executor.extraClassPath (see {@link #sparkConf}). Spark's launcher wants a SPARK_HOME with a jars/
 * directory; an empty one in a temporary directory does, since everything comes from the extra classpath.
 */
public final class LocalStandaloneCluster implements AutoCloseable {
    private final Path home;
    private final int port;
    private final List<Process> processes = new ArrayList<>();

    public LocalStandaloneCluster(int workers, int cores, String workerMemory) throws IOException, InterruptedException {
        this(workers, cores, workerMemory, false);
    }

    /**
     * With {@code distribution}, SPARK_HOME/jars holds (links to) this JVM's library jars except the project's own,
     * as a Spark distribution's jars/ would: executors then get Spark from there and the project's code only from
     * the application jar a spark-submit ships (see SparkSubmitTest).
     */
    public LocalStandaloneCluster(int workers, int cores, String workerMemory, boolean distribution)
            throws IOException, InterruptedException {
        home = Files.createTempDirectory("spark-standalone");
        Files.createDirectories(home.resolve("jars"));
        if (distribution) {
            for (String e : classPath().split(File.pathSeparator)) {
                Path jar = Path.of(e);
                if (!e.endsWith(".jar") || e.contains("/io/robustok/") || !Files.isRegularFile(jar)) continue;
                Path link = home.resolve("jars").resolve(jar.getFileName());
                if (!Files.exists(link)) Files.createSymbolicLink(link, jar);
            }
        }
        Files.createDirectories(home.resolve("work"));
        port = freePort();
        // an interrupted benchmark or test run must not leave Spark daemons behind
        Runtime.getRuntime().addShutdownHook(new Thread(() -> processes.forEach(p -> {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        })));
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", Integer.toString(port),
                "--webui-port", Integer.toString(freePort()));
        waitForPort(port, 60_000);
        for (int i = 0; i < workers; i++) {
            start("worker" + i, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", Integer.toString(cores),
                    "--memory", workerMemory, "--webui-port", Integer.toString(freePort()),
                    "--work-dir", home.resolve("work").toString(), masterUrl());
        }
    }

    /** The SPARK_HOME of the daemons (a spark-submit against this cluster uses the same). */
    public Path home() {
        return home;
    }

    public String masterUrl() {
        return "spark://127.0.0.1:" + port;
    }

    /**
     * Settings overrides that point a driver in this JVM at the cluster: {@code executors} executors of
     * {@code cores} cores, the test classpath on executors, one BLAS thread per core.
     */
    public List<String> sparkConf(int executors, int cores) {
        return List.of("spark.master=\"" + masterUrl() + "\"",
                "spark.conf.\"spark.driver.host\"=\"127.0.0.1\"",
                "spark.conf.\"spark.driver.bindAddress\"=\"127.0.0.1\"",
                "spark.conf.\"spark.ui.enabled\"=false",
                "spark.conf.\"spark.executor.cores\"=" + cores,
                "spark.conf.\"spark.cores.max\"=" + executors * cores,
                "spark.conf.\"spark.executor.memory\"=\"1g\"",
                "spark.conf.\"spark.executor.extraClassPath\"=\"" + classPath() + "\"",
                "spark.conf.\"spark.executorEnv.OMP_NUM_THREADS\"=" + cores,
                "spark.conf.\"spark.executorEnv.SPARK_LOCAL_IP\"=\"127.0.0.1\"",
                "spark.workers=" + executors * cores);
    }

    /** This JVM's classpath with absolute entries: executors run in their own working directory. */
    public static String classPath() {
        return java.util.Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.isBlank()).map(e -> Path.of(e).toAbsolutePath().toString())
                .collect(java.util.stream.Collectors.joining(File.pathSeparator));
    }

    /** Executor logs (stderr of every executor), for failure messages. */
    public String executorLogs() {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> s = Files.walk(home.resolve("work"))) {
            for (Path p : s.filter(p -> p.getFileName().toString().equals("stderr")).toList()) {
                List<String> lines = Files.readAllLines(p);
                sb.append("== ").append(p).append('\n')
                        .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()))).append('\n');
            }
        } catch (IOException e) {
            sb.append(e);
        }
        return sb.toString();
    }

    private void start(String name, String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        cmd.addAll(List.of(SparkRuntime.JAVA17_OPENS.split(" ")));
        cmd.add("-cp");
        cmd.add(classPath());
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.12");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("SPARK_LOCAL_DIRS", home.resolve("local").toString());
        pb.redirectErrorStream(true);
        pb.redirectOutput(home.resolve(name + ".log").toFile());
        processes.add(pb.start());
    }

    public String daemonLogs() throws IOException {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> s = Files.list(home)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".log")).toList()) {
                sb.append("== ").append(p).append('\n').append(Files.readString(p)).append('\n');
            }
        }
        return sb.toString();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void waitForPort(int port, long timeoutMs) throws InterruptedException, IOException {
        long end = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < end) {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(200);
            }
        }
        throw new IOException("spark master did not open port " + port + " within " + timeoutMs + " ms");
    }

    @Override
    public void close() throws InterruptedException {
        // workers first (their shutdown hooks kill the executors they started), then the master
        for (int i = processes.size() - 1; i >= 0; i--) {
            Process p = processes.get(i);
            p.destroy();
            if (!p.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
            }
        }
        try (Stream<Path> s = Files.walk(home)) {
            s.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException ignored) {
            // temporary files only
        }
    }
}
