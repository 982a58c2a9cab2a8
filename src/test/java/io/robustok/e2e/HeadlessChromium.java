package io.robustok.e2e;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders a local HTML page in headless Chromium (Debian's {@code chromium}): the DOM after load, the console
 * errors the browser logged, and a full-page screenshot. Each run gets a fresh profile directory and no network
 * side traffic (no QUIC, no component updates, no sync, no background requests).
 */
final class HeadlessChromium {
    static final List<String> CANDIDATES = List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome");

    /** What the page looked like after loading. */
    record Render(String dom, List<String> consoleErrors, String log) {
        /** An attribute of the {@code <html>} element, or null. */
        String htmlAttribute(String name) {
            Matcher m = Pattern.compile("<html[^>]*\\s" + Pattern.quote(name) + "=\"([^\"]*)\"").matcher(dom);
            return m.find() ? m.group(1) : null;
        }
    }

    private final String binary;

    private HeadlessChromium(String binary) {
        this.binary = binary;
    }

    /** The installed browser, or null (the reason to skip is then {@link #missingReason()}). */
    static HeadlessChromium find() {
        for (String c : CANDIDATES) if (new File(c).canExecute()) return new HeadlessChromium(c);
        return null;
    }

    static String missingReason() {
        return "no Chromium at " + CANDIDATES + ": install the Debian package chromium (bash .ci/run does)";
    }

    private List<String> command(Path profile) {
        return new ArrayList<>(List.of(binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--hide-scrollbars", "--virtual-time-budget=10000"));
    }

    /** Loads {@code page} and returns its DOM after the load event, with the console errors. */
    Render render(Path page, Path work) throws IOException, InterruptedException {
        List<String> cmd = command(Files.createTempDirectory(work, "chromium-profile"));
        cmd.addAll(List.of("--enable-logging=stderr", "--v=0", "--dump-dom", page.toUri().toString()));
        Path out = work.resolve("dom.html"), err = work.resolve("chromium.log");
        run(cmd, out, err);
        String log = Files.readString(err, StandardCharsets.UTF_8);
        List<String> errors = new ArrayList<>();
        for (String line : log.split("\n")) {
            // console messages of the page: "INFO:CONSOLE(12)] "Uncaught ReferenceError: ...", source: file:///..."
            if (line.contains(":CONSOLE") && (line.contains("Uncaught") || line.contains("Error") || line.contains("Failed"))) errors.add(line);
        }
        return new Render(Files.readString(out, StandardCharsets.UTF_8), errors, log);
    }

    /** A PNG of the page, {@code width} wide and {@code height} tall. */
    void screenshot(Path page, Path png, int width, int height, Path work) throws IOException, InterruptedException {
        List<String> cmd = command(Files.createTempDirectory(work, "chromium-profile"));
        cmd.addAll(List.of("--window-size=" + width + "," + height, "--screenshot=" + png.toAbsolutePath(), page.toUri().toString()));
        run(cmd, work.resolve("screenshot.out"), work.resolve("screenshot.log"));
        if (!Files.isRegularFile(png) || Files.size(png) == 0) {
            throw new IOException("chromium wrote no screenshot " + png + ":\n" + Files.readString(work.resolve("screenshot.log")));
        }
    }

    private static void run(List<String> cmd, Path out, Path err) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new IOException("chromium did not finish within 120 s: " + String.join(" ", cmd));
        }
        if (p.exitValue() != 0) {
            throw new IOException("chromium exited with " + p.exitValue() + ": " + String.join(" ", cmd) + "\n" + Files.readString(err));
        }
    }
}
