package io.robustok.e2e;

import io.robustok.report.Chart;
import io.robustok.report.HtmlPage;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The browser check catches what it is for: a page made of the report's components renders clean, and the same
 * page with an undecodable image or a script error is flagged (by the page's own check and by Chromium's log).
 */
class BrowserCheckTest {
    static Path page(Path dir, String name, HtmlPage page, String extraScript) throws Exception {
        String html = page.render();
        if (extraScript != null) html = html.replace("</body>", "<script>" + extraScript + "</script>\n</body>");
        Path f = dir.resolve(name);
        Files.writeString(f, html);
        return f;
    }

    static HtmlPage sample() {
        double[] x = {0, 1, 2, 3}, y = {4, 3, 2.5, 2.2};
        return new HtmlPage("check").section("s", "Section").chart(Chart.line("curve", "step", "loss").series("loss", x, y))
                .table(List.of("metric", "value"), List.of(List.of("fid", "12.5")));
    }

    @Test
    void cleanPagePassesAndBrokenImageOrScriptErrorIsCaught(@TempDir Path tmp) throws Exception {
        HeadlessChromium chromium = HeadlessChromium.find();
        Assumptions.assumeTrue(chromium != null, HeadlessChromium.missingReason());

        HeadlessChromium.Render clean = chromium.render(page(tmp, "clean.html", sample(), null), Files.createDirectories(tmp.resolve("a")));
        assertEquals("ok 1 images", clean.htmlAttribute("data-check"), clean.log());
        assertNull(clean.htmlAttribute("data-errors"));
        assertTrue(clean.consoleErrors().isEmpty(), clean.consoleErrors().toString());

        HtmlPage broken = sample().pictures(List.of(new HtmlPage.Picture("grid.png", "not a PNG", new byte[]{1, 2, 3, 4})));
        HeadlessChromium.Render b = chromium.render(page(tmp, "broken.html", broken, null), Files.createDirectories(tmp.resolve("b")));
        assertEquals("broken: grid.png", b.htmlAttribute("data-check"));
        assertNotNull(b.htmlAttribute("data-errors"), "the failed image is reported as an error too");

        HeadlessChromium.Render s = chromium.render(page(tmp, "script.html", sample(), "notDefinedAnywhere();"),
                Files.createDirectories(tmp.resolve("c")));
        assertTrue(s.htmlAttribute("data-errors").contains("notDefinedAnywhere"), s.dom());
        assertFalse(s.consoleErrors().isEmpty(), "Chromium logged the uncaught error:\n" + s.log());
    }
}
