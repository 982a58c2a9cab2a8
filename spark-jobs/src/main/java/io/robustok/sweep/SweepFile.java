package io.robustok.sweep;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.robustok.config.ConfigError;
import io.robustok.config.Settings;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A sweep file (HOCON, conf/sweeps/):
 * <pre>
 * name = "perturbation-ladder"       # optional; default: the file's name
 * base { tokenizer.trainer.epochs = 2 }          # overrides every variant shares
 * grid { tokenizer.perturb.alpha-max = [0.0, 0.5, 1.0] }   # every combination of these values
 * variants = [ { name = "no-ramp", overrides { tokenizer.perturb.ramp-end = 1 } } ]   # named override sets
 * study { doc = "docs/REPRODUCTION.md", unperturbed = [none], perturbed = [anneal] }   # optional: see {@link Study}
 * </pre>
 * The grid's variants and the named ones together make the sweep (either may be absent, not both). A variant's
 * name, unless given, is built from its overrides ({@code alpha-max-0.5}). Every key must exist in
 * conf/defaults.conf: a misspelling stops the sweep with the closest valid key.
 */
public final class SweepFile {
    static final List<String> ENTRIES = List.of("name", "base", "grid", "variants", "study");

    /** One variant: its name and its own overrides (key -> HOCON value), in the order written. */
    public record Variant(String name, Map<String, ConfigValue> overrides) {
        /** As {@code key=value} strings for {@link Settings#with}. */
        public List<String> overrideStrings() {
            List<String> out = new ArrayList<>();
            overrides.forEach((k, v) -> out.add(k + "=" + v.render(ConfigRenderOptions.concise())));
            return out;
        }
    }

    private final String name;
    private final Map<String, ConfigValue> base;
    private final List<String> swept;
    private final List<Variant> variants;
    private Config study = com.typesafe.config.ConfigFactory.empty();

    private SweepFile(String name, Map<String, ConfigValue> base, List<String> swept, List<Variant> variants) {
        this.name = name;
        this.base = base;
        this.swept = swept;
        this.variants = variants;
    }

    /** The file's {@code study} section (empty when absent): what {@code robustok study} writes up, see {@link Study}. */
    public Config study() {
        return study;
    }

    public String name() {
        return name;
    }

    public Map<String, ConfigValue> base() {
        return base;
    }

    /** Every key some variant overrides, sorted: the table's override columns. */
    public List<String> swept() {
        return swept;
    }

    public List<Variant> variants() {
        return variants;
    }

    public static SweepFile load(File file) {
        if (!file.isFile()) {
            throw new ConfigError("sweep file " + file + " does not exist: pass --sweep with a path such as conf/sweeps/perturbation-ladder.conf");
        }
        Config c;
        try {
            c = ConfigFactory.parseFile(file, ConfigParseOptions.defaults().setAllowMissing(false)).resolve();
        } catch (ConfigException e) {
            throw new ConfigError("sweep file " + file + " is not valid HOCON: " + e.getMessage());
        }
        String fallback = file.getName().replaceFirst("\\.conf$", "");
        return parse(c, fallback, file.toString());
    }

    static SweepFile parse(Config c, String fallbackName, String where) {
        for (String k : c.root().keySet()) {
            if (!ENTRIES.contains(k)) {
                String best = closest(k, ENTRIES);
                throw new ConfigError("sweep file " + where + ": unknown entry '" + k + "': did you mean '" + best
                        + "'? (a sweep file has name, base, grid, variants and study)");
            }
        }
        String name = c.hasPath("name") ? c.getString("name") : fallbackName;
        if (!name.matches("[A-Za-z0-9._-]+")) {
            throw new ConfigError("sweep file " + where + ": name '" + name + "' must be letters, digits, '.', '_' or '-' (it names a directory)");
        }
        Map<String, ConfigValue> base = c.hasPath("base") ? leaves(c, "base", where) : Map.of();

        List<Variant> variants = new ArrayList<>();
        if (c.hasPath("grid")) {
            Map<String, ConfigValue> grid = leaves(c, "grid", where);
            if (grid.isEmpty()) throw new ConfigError("sweep file " + where + ": grid is empty: give each swept key a list, e.g. grid { tokenizer.perturb.alpha-max = [0.0, 0.5, 1.0] }");
            Map<String, List<ConfigValue>> axes = new TreeMap<>();
            grid.forEach((k, v) -> {
                if (v.valueType() != ConfigValueType.LIST) {
                    throw new ConfigError("sweep file " + where + ": grid." + k + " must be a list of values, e.g. [0.5, 1.0]");
                }
                List<ConfigValue> vals = new ArrayList<>((ConfigList) v);
                if (vals.isEmpty()) throw new ConfigError("sweep file " + where + ": grid." + k + " is an empty list: the grid has no variants; give it values or remove it");
                axes.put(k, vals);
            });
            List<Map<String, ConfigValue>> combos = new ArrayList<>();
            combos.add(new LinkedHashMap<>());
            for (Map.Entry<String, List<ConfigValue>> axis : axes.entrySet()) {
                List<Map<String, ConfigValue>> next = new ArrayList<>();
                for (Map<String, ConfigValue> combo : combos) {
                    for (ConfigValue v : axis.getValue()) {
                        Map<String, ConfigValue> m = new LinkedHashMap<>(combo);
                        m.put(axis.getKey(), v);
                        next.add(m);
                    }
                }
                combos = next;
            }
            for (Map<String, ConfigValue> combo : combos) variants.add(new Variant(null, combo));
        }
        if (c.hasPath("variants")) {
            if (c.getValue("variants").valueType() != ConfigValueType.LIST) {
                throw new ConfigError("sweep file " + where + ": variants must be a list, e.g. variants = [ { name = a, overrides { ... } } ]");
            }
            int i = 0;
            for (ConfigValue v : c.getList("variants")) {
                i++;
                if (v.valueType() != ConfigValueType.OBJECT) {
                    throw new ConfigError("sweep file " + where + ": variants[" + i + "] must be an object { name = ..., overrides { ... } }");
                }
                Config vc = ((ConfigObject) v).toConfig();
                for (String k : vc.root().keySet()) {
                    if (!k.equals("name") && !k.equals("overrides")) {
                        throw new ConfigError("sweep file " + where + ": variants[" + i + "] has unknown entry '" + k
                                + "': did you mean '" + closest(k, List.of("name", "overrides")) + "'?");
                    }
                }
                Map<String, ConfigValue> over = vc.hasPath("overrides") ? leaves(vc, "overrides", where + " variants[" + i + "]") : Map.of();
                String given = vc.hasPath("name") ? vc.getString("name") : null;
                if (given != null && !given.matches("[A-Za-z0-9._-]+")) {
                    throw new ConfigError("sweep file " + where + ": variant name '" + given + "' must be letters, digits, '.', '_' or '-'");
                }
                variants.add(new Variant(given, over));
            }
        }
        if (variants.isEmpty()) {
            throw new ConfigError("sweep file " + where + " defines no variants: add a grid { key = [values] } or variants = [ ... ]");
        }
        Set<String> swept = new java.util.TreeSet<>();
        for (Variant v : variants) swept.addAll(v.overrides().keySet());
        List<Variant> named = new ArrayList<>();
        Set<String> used = new LinkedHashSet<>();
        for (Variant v : variants) {
            String n = v.name() != null ? v.name() : derivedName(v.overrides(), swept);
            String unique = n;
            for (int k = 2; used.contains(unique); k++) unique = n + "-" + k;
            if (v.name() != null && !unique.equals(n)) {
                throw new ConfigError("sweep file " + where + ": two variants are named '" + n + "': names must be unique");
            }
            used.add(unique);
            named.add(new Variant(unique, v.overrides()));
        }
        SweepFile f = new SweepFile(name, base, List.copyOf(swept), named);
        if (c.hasPath("study")) {
            if (c.getValue("study").valueType() != ConfigValueType.OBJECT) {
                throw new ConfigError("sweep file " + where + ": study must be an object, e.g. study { doc = \"docs/STUDY.md\" }");
            }
            f.study = c.getConfig("study");
        }
        return f;
    }

    /** The leaf keys under {@code path} with their values; keys must be in defaults.conf. */
    private static Map<String, ConfigValue> leaves(Config c, String path, String where) {
        if (c.getValue(path).valueType() != ConfigValueType.OBJECT) {
            throw new ConfigError("sweep file " + where + ": " + path + " must be an object { key = value ... }");
        }
        Config sub = c.getConfig(path);
        try {
            Settings.checkKnown(sub);
        } catch (ConfigError e) {
            throw new ConfigError("sweep file " + where + " (" + path + "): " + e.getMessage());
        }
        Map<String, ConfigValue> out = new TreeMap<>();
        for (Map.Entry<String, ConfigValue> e : sub.entrySet()) out.put(e.getKey(), e.getValue());
        return out;
    }

    /**
     * A readable name from overrides: each key by its last segment (more segments when two swept keys share it),
     * then its value: {@code alpha-max-0.5_ramp-end-3}.
     */
    static String derivedName(Map<String, ConfigValue> overrides, Set<String> swept) {
        if (overrides.isEmpty()) return "base";
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, ConfigValue> e : overrides.entrySet()) {
            parts.add(shortKey(e.getKey(), swept) + "-" + StageGraph.canonical(e.getValue()).replaceAll("[^A-Za-z0-9.+-]+", "-")
                    .replaceAll("^-|-$", ""));
        }
        return String.join("_", parts);
    }

    static String shortKey(String key, Set<String> all) {
        String[] seg = key.split("\\.");
        for (int n = 1; n <= seg.length; n++) {
            String s = String.join(".", java.util.Arrays.copyOfRange(seg, seg.length - n, seg.length));
            boolean unique = true;
            for (String o : all) {
                if (!o.equals(key) && (o.equals(s) || o.endsWith("." + s))) unique = false;
            }
            if (unique) return s;
        }
        return key;
    }

    private static String closest(String k, List<String> options) {
        String best = options.get(0);
        int bestD = Integer.MAX_VALUE;
        for (String o : options) {
            int d = io.robustok.config.Settings.levenshtein(k, o);
            if (d < bestD) {
                bestD = d;
                best = o;
            }
        }
        return best;
    }
}
