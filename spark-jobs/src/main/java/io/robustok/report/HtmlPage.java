package io.robustok.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * One self-contained HTML page (every image inlined as a data URI, no external script, style or font) built
 * from a few components: sections, paragraphs, {@link Chart}s, tables, image grids and provenance blocks.
 * The run report and the sweep report are both made of these.
 * <pre>{@code
 * HtmlPage page = new HtmlPage("robustok run report: demo");
 * page.section("training", "Training").charts(List.of(lossChart, psnrChart));
 * page.table(List.of("metric", "value"), rows);
 * Files.writeString(dir.resolve("index.html"), page.render());
 * }</pre>
 * The page marks itself after loading: {@code <html data-check="ok N images">} when every image decoded, else
 * {@code data-check="broken: ..."}; a script error or failed resource adds {@code data-errors}. A broken image
 * is outlined in red with its name, so a reader sees it too.
 */
public final class HtmlPage {
    private static final ObjectMapper PRETTY = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String STYLE = """
            body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1360px;color:#222;padding:0 16px}
            h1{font-size:24px;margin-bottom:4px}h2{font-size:20px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
            h3{font-size:16px;margin:20px 0 8px}p.meta{color:#555;margin-top:0}nav a{margin-right:14px}
            .grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{margin:0;border:1px solid #ddd;padding:6px;background:#fff}
            figure img{display:block;max-width:100%;height:auto}figcaption{font-size:12px;color:#555;margin-top:4px;max-width:640px}
            figure.picture img{image-rendering:pixelated;min-width:256px}
            table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
            th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
            details{margin:6px 0}summary{cursor:pointer}pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto}
            .broken{outline:3px solid #d00}.broken-note{color:#d00;font-weight:bold}
            """;
    /** Records script errors and failed resources, then checks every image once the page has loaded. */
    private static final String CHECK = """
            (function(){
              var root=document.documentElement, errors=[];
              window.addEventListener('error',function(e){
                errors.push(e.message?e.message:'resource failed: '+((e.target&&(e.target.alt||e.target.src))||'?').toString().slice(0,80));
                root.setAttribute('data-errors',errors.join(' | '));
              },true);
              window.addEventListener('load',function(){
                var broken=[], imgs=document.images;
                for(var i=0;i<imgs.length;i++){
                  var im=imgs[i];
                  if(!im.complete||im.naturalWidth===0){
                    broken.push(im.alt||('image '+i));
                    im.classList.add('broken');
                    var note=document.createElement('div');
                    note.className='broken-note';
                    note.textContent='image failed to load: '+(im.alt||i);
                    im.parentNode.insertBefore(note,im);
                  }
                }
                root.setAttribute('data-check',broken.length?'broken: '+broken.join(', '):'ok '+imgs.length+' images');
              });
            })();
            """;

    private final String title;
    private final StringBuilder body = new StringBuilder();
    private final List<String[]> contents = new ArrayList<>();
    private String meta = "";

    public HtmlPage(String title) {
        this.title = title;
    }

    /** A line under the title (run name, output root, when it was made). */
    public HtmlPage meta(String text) {
        meta = text;
        return this;
    }

    /** A new section with an entry in the page's contents line. */
    public HtmlPage section(String id, String heading) {
        contents.add(new String[]{id, heading});
        body.append("<h2 id=\"").append(esc(id)).append("\">").append(esc(heading)).append("</h2>\n");
        return this;
    }

    public HtmlPage subheading(String text) {
        body.append("<h3>").append(esc(text)).append("</h3>\n");
        return this;
    }

    public HtmlPage paragraph(String text) {
        body.append("<p>").append(esc(text)).append("</p>\n");
        return this;
    }

    /** A bulleted list. */
    public HtmlPage list(List<String> items) {
        if (items.isEmpty()) return this;
        body.append("<ul>");
        for (String s : items) body.append("<li>").append(esc(s)).append("</li>");
        body.append("</ul>\n");
        return this;
    }

    /** Charts side by side (wrapping), each 640 x 360; empty charts are left out. */
    public HtmlPage charts(List<Chart> charts) {
        List<Chart> drawn = charts.stream().filter(c -> !c.isEmpty()).toList();
        if (drawn.isEmpty()) return this;
        body.append("<div class=\"grid\">\n");
        for (Chart c : drawn) figure("chart", c.title(), c.png(640, 360), null);
        body.append("</div>\n");
        return this;
    }

    public HtmlPage chart(Chart c) {
        return charts(List.of(c));
    }

    /** A table; cells that parse as numbers are right-aligned. */
    public HtmlPage table(List<String> headers, List<List<String>> rows) {
        body.append("<table><thead><tr>");
        for (String h : headers) body.append("<th>").append(esc(h)).append("</th>");
        body.append("</tr></thead><tbody>\n");
        for (List<String> row : rows) {
            body.append("<tr>");
            for (String cell : row) {
                body.append(isNumber(cell) ? "<td class=\"num\">" : "<td>").append(esc(cell)).append("</td>");
            }
            body.append("</tr>\n");
        }
        body.append("</tbody></table>\n");
        return this;
    }

    /** A picture of the run (an image grid a stage wrote) with its caption. */
    public record Picture(String name, String caption, byte[] png) {
    }

    /** Pictures side by side (wrapping), shown at least 256 px wide with crisp pixels. */
    public HtmlPage pictures(List<Picture> pictures) {
        if (pictures.isEmpty()) return this;
        body.append("<div class=\"grid\">\n");
        for (Picture p : pictures) figure("picture", p.name(), p.png(), p.caption() == null ? "" : p.caption());
        body.append("</div>\n");
        return this;
    }

    /**
     * The provenance of one output ({@code _COMPLETE.json}): stage, config hash, code revision, finish time, wall
     * time and inputs in a line each, the whole record folded below.
     */
    public HtmlPage provenance(String output, JsonNode done) {
        body.append("<details><summary><b>").append(esc(output)).append("</b> &mdash; ")
                .append(esc(done.path("stage").asText("?"))).append(", config ")
                .append(esc(shortHash(done.path("config_sha256").asText()))).append(", revision ")
                .append(esc(done.path("revision").asText("?"))).append(", finished ")
                .append(esc(done.path("finished").asText("?")));
        if (done.has("wall_s")) body.append(", wall ").append(esc(duration(done.path("wall_s").asDouble())));
        body.append("</summary>\n");
        List<String> inputs = inputs(done);
        if (!inputs.isEmpty()) {
            body.append("<p>inputs:</p>");
            list(inputs);
        }
        JsonNode overrides = done.path("overrides");
        if (overrides.isObject() && overrides.size() > 0) {
            body.append("<p>settings that differ from conf/defaults.conf:</p>");
            List<String> kv = new ArrayList<>();
            overrides.fields().forEachRemaining(e -> kv.add(e.getKey() + " = " + e.getValue()));
            list(kv);
        }
        try {
            body.append("<pre>").append(esc(PRETTY.writeValueAsString(done))).append("</pre>");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        body.append("</details>\n");
        return this;
    }

    /** The whole page. */
    public String render() {
        StringBuilder h = new StringBuilder(body.length() + 4096);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(esc(title))
                .append("</title>\n<style>\n").append(STYLE).append("</style>\n<script>\n").append(CHECK)
                .append("</script>\n</head>\n<body>\n<h1>").append(esc(title)).append("</h1>\n");
        if (!meta.isEmpty()) h.append("<p class=\"meta\">").append(esc(meta)).append("</p>\n");
        if (!contents.isEmpty()) {
            h.append("<nav>");
            for (String[] c : contents) h.append("<a href=\"#").append(esc(c[0])).append("\">").append(esc(c[1])).append("</a>");
            h.append("</nav>\n");
        }
        h.append(body).append("</body>\n</html>\n");
        return h.toString();
    }

    private void figure(String kind, String name, byte[] png, String caption) {
        body.append("<figure class=\"").append(kind).append("\"><img alt=\"").append(esc(name))
                .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(png)).append("\">");
        // a chart's title is in the picture; a grid is named by its file and described by its caption
        if (caption != null) {
            body.append("<figcaption>").append(esc(caption.isEmpty() ? name : name + ": " + caption)).append("</figcaption>");
        }
        body.append("</figure>\n");
    }

    /** Paths and provenance records a stage read: top-level strings that look like paths, objects with a path. */
    static List<String> inputs(JsonNode done) {
        List<String> out = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> it = done.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (v.isTextual() && (v.asText().contains("/") && !e.getKey().equals("checkpoint"))) {
                out.add(e.getKey() + ": " + v.asText());
            } else if (v.isObject() && v.has("path")) {
                String line = e.getKey() + ": " + v.path("path").asText();
                JsonNode p = v.path("provenance");
                if (p.has("config_sha256")) line += " (config " + shortHash(p.path("config_sha256").asText()) + ", finished "
                        + p.path("finished").asText() + ")";
                out.add(line);
            } else if (v.isObject() && v.has("dir")) {
                out.add(e.getKey() + ": " + v.path("dir").asText());
            }
        }
        return out;
    }

    static String shortHash(String h) {
        return h.length() > 12 ? h.substring(0, 12) : h;
    }

    /** 75 s -> "1 min 15 s". */
    public static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) return String.format(java.util.Locale.ROOT, "%.1f s", seconds);
        if (s < 3600) return (s / 60) + " min " + (s % 60) + " s";
        return (s / 3600) + " h " + (s / 60 % 60) + " min";
    }

    private static boolean isNumber(String s) {
        return s.matches("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?( ?%)?");
    }

    public static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
