package io.robustok.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.io.File;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The resolved configuration of one run: {@code defaults.conf} (on the classpath, copied from conf/) under
 * an experiment file under command-line {@code key=value} overrides.
 *
 * <p>Every key a user writes must exist in defaults.conf; a misspelling fails with the closest valid key.
 * A stage section may overlay any trainer key ({@code tokenizer.trainer.epochs} is valid because
 * {@code trainer.epochs} is). Sections listed in {@code open-sections} of defaults.conf (free-form maps such as extra Spark settings)
 * accept any key below them.
 *
 * <p>Serializable (as its rendered HOCON) so Spark tasks can carry it.
 */
public final class Settings implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String rendered;
    private final String hash;
    private final String file;
    private final List<String> overrides;
    private transient Config config;

    private Settings(Config resolved, File file, List<String> overrides) {
        this.config = resolved;
        this.file = file == null ? null : file.getPath();
        this.overrides = List.copyOf(overrides);
        this.rendered = resolved.root().render(ConfigRenderOptions.concise().setFormatted(false));
        // credentials do not make a different run: the hash is that of the redacted config
        this.hash = sha256(redact(resolved).root().render(ConfigRenderOptions.concise()));
    }

    /** Defaults only (tests, tools). */
    public static Settings defaults() {
        return load(null, List.of());
    }

    /**
     * @param file      experiment file ({@code conf/demo.conf}), or null for defaults alone
     * @param overrides {@code key=value} strings, HOCON values ({@code a.b=3}, {@code a.c="x"}, {@code a.l=[1,2]})
     */
    public static Settings load(File file, List<String> overrides) {
        Config defaults = ConfigFactory.parseResources("defaults.conf",
                ConfigParseOptions.defaults().setAllowMissing(false));
        Config user = ConfigFactory.empty();
        if (file != null) {
            if (!file.isFile()) {
                throw new ConfigError("config file " + file + " does not exist: pass --conf with a path such as conf/demo.conf");
            }
            try {
                user = ConfigFactory.parseFile(file, ConfigParseOptions.defaults().setAllowMissing(false));
            } catch (ConfigException e) {
                throw new ConfigError("config file " + file + " is not valid HOCON: " + e.getMessage());
            }
        }
        Config over = ConfigFactory.empty();
        for (String kv : overrides) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new ConfigError("override '" + kv + "' is not key=value: write e.g. trainer.averaging-frequency=5");
            }
            String key = kv.substring(0, eq).trim();
            String value = kv.substring(eq + 1).trim();
            try {
                over = ConfigFactory.parseString(key + " = " + quoteIfNeeded(value)).withFallback(over);
            } catch (ConfigException e) {
                throw new ConfigError("override '" + kv + "' does not parse: " + e.getMessage());
            }
        }
        Config layered = over.withFallback(user);
        checkKeys(layered, defaults);
        Config resolved;
        try {
            resolved = layered.withFallback(defaults).resolve(ConfigResolveOptions.defaults());
        } catch (ConfigException e) {
            throw new ConfigError("config does not resolve: " + e.getMessage());
        }
        return new Settings(resolved, file, overrides);
    }

    private static String quoteIfNeeded(String v) {
        if (v.isEmpty()) return "\"\"";
        char c = v.charAt(0);
        if (c == '"' || c == '[' || c == '{' || c == '$') return v;
        // bare words HOCON would split (paths with ':' or '/'), are quoted
        if (v.matches("[-+]?[0-9.eE+-]+|true|false|null|[A-Za-z0-9_.-]+")) return v;
        return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /**
     * Fails, as {@link #load} does, on the first key of {@code user} that defaults.conf does not know (one line
     * naming it and the closest valid key). For files that hold overrides, such as sweep files.
     */
    public static void checkKnown(Config user) {
        checkKeys(user, ConfigFactory.parseResources("defaults.conf", ConfigParseOptions.defaults().setAllowMissing(false)));
    }

    /** Fails on the first key of {@code user} that defaults.conf does not know, with the closest valid key. */
    static void checkKeys(Config user, Config defaults) {
        List<String> open = defaults.hasPath("open-sections") ? defaults.getStringList("open-sections") : List.of();
        Set<String> valid = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : defaults.entrySet()) valid.add(e.getKey());
        Set<String> keys = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) keys.add(e.getKey());
        for (String key : keys) {
            if (valid.contains(key)) continue;
            // a stage may overlay any trainer key in its own section: tokenizer.trainer.epochs = trainer.epochs
            int t = key.indexOf(".trainer.");
            if (t > 0 && key.indexOf('.') == t && valid.contains(key.substring(t + 1))) continue;
            boolean underOpen = false;
            for (String o : open) {
                if (key.startsWith(o + ".")) {
                    underOpen = true;
                    break;
                }
            }
            if (underOpen) continue;
            // a whole object replaced by a value of another type, or an unknown leaf
            String best = closest(key, valid);
            throw new ConfigError("unknown config key '" + key + "'" + (best == null ? "" : ": did you mean '" + best + "'?")
                    + " (valid keys are listed in conf/defaults.conf)");
        }
    }

    static String closest(String key, Set<String> valid) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String v : valid) {
            int d = levenshtein(key, v);
            if (d < bestD) {
                bestD = d;
                best = v;
            }
        }
        return best;
    }

    /** Edit distance of two strings (the "did you mean" hints of config keys, stages and sweep keys). */
    public static int levenshtein(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Config config() {
        if (config == null) config = ConfigFactory.parseString(rendered).resolve();
        return config;
    }

    /** The sub-tree at {@code path}, e.g. {@code settings.at("tokenizer.perturbation")}. */
    public Config at(String path) {
        return config().getConfig(path);
    }

    /** SHA-256 of the resolved config (hex); stable for the same settings. */
    public String hash() {
        return hash;
    }

    /** The resolved config as formatted HOCON, written next to every stage output; credentials redacted. */
    public String render() {
        return redact(config()).root().render(ConfigRenderOptions.defaults().setOriginComments(false).setJson(false));
    }

    /** What a redacted value reads. */
    public static final String REDACTED = "*** redacted ***";
    /** Keys in free-form sections (spark.conf) whose values are credentials: s3a/Azure/GCS keys, tokens, passwords. */
    static final java.util.regex.Pattern SECRET = java.util.regex.Pattern.compile(
            "(?i)(secret|password|passwd|token|credential|access[._-]?key|account[._-]?key|private[._-]?key|session[._-]?key|signature)");

    /** {@code c} with the value of every credential key in a free-form section replaced by {@link #REDACTED}. */
    static Config redact(Config c) {
        List<String> open = c.hasPath("open-sections") ? c.getStringList("open-sections") : List.of();
        Config out = c;
        for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
            String k = e.getKey();
            for (String o : open) {
                if (k.startsWith(o + ".") && SECRET.matcher(k.substring(o.length() + 1)).find()) {
                    out = out.withValue(k, com.typesafe.config.ConfigValueFactory.fromAnyRef(REDACTED));
                }
            }
        }
        return out;
    }

    /**
     * A copy with more overrides on top (sweeps, the pipeline): reloaded from the same file and overrides,
     * so substitutions such as {@code data.parquet = ${run.out}/data} follow the new values.
     */
    public Settings with(List<String> more) {
        List<String> all = new ArrayList<>(overrides);
        all.addAll(more);
        return load(file == null ? null : new File(file), all);
    }

    /** The command-line overrides this run was loaded with. */
    public List<String> overrides() {
        return overrides;
    }

    /** Leaf keys whose value differs from defaults.conf, sorted: what makes this run different. */
    public List<String> differencesFromDefaults() {
        Config defaults = ConfigFactory.parseResources("defaults.conf").resolve();
        Config mine = redact(config());
        List<String> out = new ArrayList<>();
        Set<String> keys = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : mine.entrySet()) keys.add(e.getKey());
        for (String k : keys) {
            ConfigValue v = mine.getValue(k);
            if (!defaults.hasPath(k) || !defaults.getValue(k).unwrapped().equals(v.unwrapped())) {
                out.add(k + "=" + (v.valueType() == ConfigValueType.STRING ? v.unwrapped() : v.render(ConfigRenderOptions.concise())));
            }
        }
        return out;
    }
}
