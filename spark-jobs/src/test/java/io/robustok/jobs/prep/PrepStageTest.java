package io.robustok.jobs.prep;

import io.robustok.cli.Main;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The prep and demo-data stages through the CLI: exit codes and one-line messages. */
class PrepStageTest {
    @TempDir
    Path dir;

    @AfterAll
    static void stop() {
        SparkSession.getDefaultSession().foreach(s -> {
            s.stop();
            return null;
        });
    }

    @Test
    void prepExitsZeroWithBadFilesAndSkipsOnRerun() throws IOException {
        Path in = dir.resolve("in");
        for (String c : new String[]{"n01", "n02"}) {
            Files.createDirectories(in.resolve("train/" + c));
            BufferedImage img = new BufferedImage(20, 16, BufferedImage.TYPE_INT_RGB);
            img.setRGB(3, 4, 0xff8040);
            ImageIO.write(img, "jpg", in.resolve("train/" + c + "/a.JPEG").toFile());
        }
        Files.writeString(in.resolve("train/n01/bad.JPEG"), "text, not a JPEG");
        Files.write(in.resolve("train/n02/empty.JPEG"), new byte[0]);
        String[] args = {"prep", "spark.master=\"local[2]\"", "prep.input=" + in, "prep.output=" + dir.resolve("out")};
        Run r = run(args);
        assertEquals(0, r.code, r.err);
        String manifest = Files.readString(dir.resolve("out/manifest.json"));
        assertTrue(manifest.replaceAll("\\s", "").contains("\"train\":{\"rows\":2,\"rejects\":2"), manifest);
        String marker = Files.readString(dir.resolve("out/_COMPLETE.json"));
        Run again = run(args);
        assertEquals(0, again.code, again.err);
        assertEquals(marker, Files.readString(dir.resolve("out/_COMPLETE.json")), "rerun skipped: output untouched");
    }

    @Test
    void missingInputIsAOneLineUserError() {
        Run r = run(new String[]{"prep", "prep.input=" + dir.resolve("nope"), "prep.output=" + dir.resolve("out")});
        assertEquals(1, r.code);
        assertTrue(r.err.startsWith("robustok prep: input path") && r.err.contains("does not exist")
                && r.err.contains("expected an ImageFolder root"), r.err);
        assertEquals(1, r.err.strip().lines().count(), "one line: " + r.err);
    }

    @Test
    void demoDataWithoutThePackageNamesTheInstallCommand() {
        Run r = run(new String[]{"demo-data", "data.fashion-mnist=" + dir.resolve("none"),
                "data.imagefolder=" + dir.resolve("folder")});
        assertEquals(1, r.code);
        assertTrue(r.err.contains("apt-get install dataset-fashion-mnist"), r.err);
    }

    record Run(int code, String out, String err) {
    }

    static Run run(String[] args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
