package io.robustok.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Safety of what the stages read and write: no Java deserialization of anything read from disk (the code is grepped
 * here; BadInputTest feeds crafted serialized objects to every loader), and no credentials in logs, manifests or
 * _config.conf of a real run.
 */
class SafetyTest {

    /** Project root: this module's parent. */
    static Path root() {
        return Path.of("").toAbsolutePath().getParent();
    }

    @Test
    void noMainCodeDeserializesJavaObjectsFromFiles() throws IOException {
        List<String> hits = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root())) {
            for (Path p : s.filter(f -> f.toString().endsWith(".java") && f.toString().contains("/src/main/")).toList()) {
                String text = Files.readString(p);
                if (text.contains("ObjectInputStream") || text.contains("readObject(") || text.contains("XMLDecoder")) {
                    hits.add(root().relativize(p).toString());
                }
            }
        }
        // the one use: a Hadoop Configuration that Spark ships inside its own task closures, never read from a file
        assertEquals(List.of("data-prep/src/main/java/io/robustok/data/HadoopConf.java"), hits);
    }

    @Test
    void credentialsInTheConfigReachNeitherTheLogNorAnyOutputFile(@TempDir Path tmp) throws Exception {
        Path folder = tmp.resolve("imagefolder");
        Path words = ImageFolders.write(folder, 2, 1);
        Path out = tmp.resolve("run");
        Path log = tmp.resolve("prep.log");
        String access = "AKIAREDACTIONTEST1", secret = "wJalrXUtnFEMI-REDACTION-TEST", token = "FwoGZXIvYXdzE-REDACTION";
        List<String> args = List.of("prep", "run.out=" + out, "data.imagefolder=" + folder, "prep.class-names=" + words,
                "spark.master=\"local[2]\"",
                "spark.conf.\"spark.hadoop.fs.s3a.access.key\"=" + access,
                "spark.conf.\"spark.hadoop.fs.s3a.secret.key\"=" + secret,
                "spark.conf.\"spark.hadoop.fs.s3a.session.token\"=" + token);
        try (ChildDriver d = ChildDriver.start(log, Map.of(), args)) {
            assertEquals(0, d.waitFor(5), d.tail());
        }
        List<Path> files = new ArrayList<>(List.of(log));
        try (Stream<Path> s = Files.walk(out)) {
            files.addAll(s.filter(Files::isRegularFile).toList());
        }
        assertTrue(files.stream().anyMatch(f -> f.endsWith("_config.conf")), "the run wrote its config");
        for (Path f : files) {
            String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
            for (String s : List.of(access, secret, token)) assertFalse(text.contains(s), s + " found in " + f);
        }
        String conf = Files.readString(out.resolve("data/_config.conf"));
        assertTrue(conf.contains("redacted"), "the keys are there, their values redacted:\n" + conf);
    }
}
