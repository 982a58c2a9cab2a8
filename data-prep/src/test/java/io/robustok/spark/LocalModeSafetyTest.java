package io.robustok.spark;

import io.robustok.config.ConfigError;
import io.robustok.config.Settings;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Local mode listens on loopback only; paths from the config are normalised. */
class LocalModeSafetyTest {

    /** Listening TCP sockets of this process, as "address:port" (from /proc/net/tcp{,6} and /proc/self/fd). */
    static List<String> listeningSockets() throws IOException {
        Set<String> mine = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String t = Files.readSymbolicLink(fd).toString();
                    if (t.startsWith("socket:[")) mine.add(t.substring(8, t.length() - 1));
                } catch (IOException ignored) {
                    // closed meanwhile
                }
            }
        }
        List<String> out = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(table);
            if (!Files.exists(p)) continue;
            for (String line : Files.readAllLines(p).subList(1, Files.readAllLines(p).size())) {
                String[] f = line.trim().split("\\s+");
                // f[1] local address, f[3] state (0A = LISTEN), f[9] inode
                if (f[3].equals("0A") && mine.contains(f[9])) out.add(f[1]);
            }
        }
        return out;
    }

    /** 127.x.x.x, ::1 or ::ffff:127.x.x.x in /proc's little-endian hex. */
    static boolean loopbackHex(String addrPort) {
        String a = addrPort.substring(0, addrPort.indexOf(':'));
        if (a.length() == 8) return a.endsWith("7F");
        return a.equals("00000000000000000000000001000000") || a.startsWith("0000000000000000FFFF0000") && a.endsWith("7F");
    }

    @Test
    void aLocalSessionListensOnLoopbackOnly() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/proc/net/tcp")), "needs Linux /proc to list sockets");
        SparkSession s = SparkRuntime.session(Settings.load(null, List.of("spark.master=\"local[2]\"")));
        // the block manager and the RPC endpoint are up once a job ran
        s.range(10).count();
        List<String> socks = listeningSockets();
        assertFalse(socks.isEmpty(), "the driver listens somewhere (RPC, block manager)");
        for (String a : socks) assertTrue(loopbackHex(a), "listening on a non-loopback address " + a + " of " + socks);
        assertEquals("false", s.conf().get("spark.ui.enabled"), "no web UI in local mode by default");
    }

    @Test
    void localModeRefusesAnyOtherBindAddressAndAUiWithoutALoopbackSparkLocalIp() {
        SparkConf ui = new SparkConf(false).set("spark.ui.enabled", "true");
        ConfigError e = assertThrows(ConfigError.class, () -> SparkRuntime.requireLoopback(ui, null));
        assertTrue(e.getMessage().contains("SPARK_LOCAL_IP=127.0.0.1"), e.getMessage());
        assertThrows(ConfigError.class, () -> SparkRuntime.requireLoopback(ui, "10.0.0.5"));
        SparkRuntime.requireLoopback(ui, "127.0.0.1");
        SparkConf bind = new SparkConf(false).set("spark.ui.enabled", "false").set("spark.driver.bindAddress", "0.0.0.0");
        assertThrows(ConfigError.class, () -> SparkRuntime.requireLoopback(bind, "127.0.0.1"));
    }

    @Test
    void pathsAreNormalised() {
        String cwd = new java.io.File("").getAbsoluteFile().toURI().toString(); // file:/.../ (a directory)
        assertEquals(cwd + "work/demo/data", StageOutput.qualify("work/../work/./demo//data"));
        assertEquals("file:/tmp/b/c", StageOutput.qualify("file:/tmp/a/../b/./c"));
        assertEquals("s3a://bucket/runs/x", StageOutput.qualify("s3a://bucket/runs/tmp/../x"));
        assertEquals("hdfs://nn:8020/a/b", StageOutput.qualify("hdfs://nn:8020/a/b"));
    }
}
