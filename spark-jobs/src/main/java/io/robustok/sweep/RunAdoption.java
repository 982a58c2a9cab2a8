package io.robustok.sweep;

import io.robustok.config.Settings;
import io.robustok.spark.StageOutput;
import io.robustok.sweep.StageGraph.Node;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Outputs of ordinary runs (run.store empty, e.g. {@code bin/demo}'s work/demo) that a store entry can be taken
 * from instead of computing it (sweep.adopt). An output {@code <run>/<output>} qualifies for an entry when it is
 * committed, the config it was computed with ({@code _config.conf} beside it) gives its stage the entry's identity,
 * it read its inputs from that run (its run.out and the location keys point there), and every input it read
 * qualifies in the same way. Taking it hard-links its files into the store (the run keeps its own, and a later
 * {@code --force} there replaces the run's files, not the store's); local file systems only.
 */
final class RunAdoption {
    private static final Logger log = LoggerFactory.getLogger(RunAdoption.class);

    private RunAdoption() {
    }

    /** The first {@code <run>/<output>} among {@code runs} that qualifies for node {@code n}'s entry, or null. */
    static String find(Node n, Map<String, String> ids, List<String> runs) {
        if (!n.shared()) return null;
        for (String run : runs) {
            if (qualifies(n, ids, run)) return run + "/" + n.output();
        }
        return null;
    }

    static boolean qualifies(Node n, Map<String, String> ids, String run) {
        if (!local(run)) return false;
        Settings c = recorded(run, n);
        if (c == null || !ids.get(n.stage()).equals(StageGraph.identities(c).get(n.stage()))) return false;
        String base = base(c.config().getString("run.out"), run);
        if (base == null) return false;
        for (Node a : ancestors(n)) {
            if (a.locationKey() != null && !resolve(c.config().getString(a.locationKey()), base).equals(dir(run + "/" + a.output()))) {
                return false;
            }
            Settings ca = recorded(run, a);
            if (ca == null || !ids.get(a.stage()).equals(StageGraph.identities(ca).get(a.stage()))) return false;
        }
        return true;
    }

    /** The shared stages whose outputs {@code n} reads, directly or through its inputs. */
    static List<Node> ancestors(Node n) {
        Set<String> seen = new LinkedHashSet<>();
        Deque<String> todo = new ArrayDeque<>(n.inputs());
        while (!todo.isEmpty()) {
            String s = todo.pop();
            if (seen.add(s)) todo.addAll(StageGraph.node(s).inputs());
        }
        List<Node> out = new ArrayList<>();
        for (String s : seen) if (StageGraph.node(s).shared()) out.add(StageGraph.node(s));
        return out;
    }

    /** The config {@code <run>/<output of a>} was computed with, or null when it is not committed or unreadable. */
    private static Settings recorded(String run, Node a) {
        Path dir = path(run + "/" + a.output());
        Path conf = dir.resolve(StageOutput.CONFIG);
        if (Files.isSymbolicLink(dir) || !Files.isRegularFile(dir.resolve(StageOutput.COMPLETE)) || !Files.isRegularFile(conf)) return null;
        try {
            return Settings.load(conf.toFile(), List.of());
        } catch (RuntimeException e) { // written by an older version whose keys no longer load: not comparable
            log.info("sweep.adopt: {} not considered: {}", conf, e.getMessage());
            return null;
        }
    }

    /**
     * Hard-links the tree {@code from} into {@code to} (copying where links are not possible): built under a
     * temporary sibling, then renamed into place, so {@code to} appears complete or not at all.
     */
    static void linkInto(String from, String to) {
        Path src = path(from), dest = path(to);
        Path tmp = dest.resolveSibling(dest.getFileName() + "._adopt-" + UUID.randomUUID().toString().substring(0, 8));
        try (Stream<Path> tree = Files.walk(src)) {
            for (Path p : (Iterable<Path>) tree::iterator) {
                Path t = tmp.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    try {
                        Files.createLink(t, p);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
            }
            Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot take " + from + " into the store as " + to + " (partial copy in " + tmp + ")", e);
        }
    }

    private static boolean local(String p) {
        return StageOutput.qualify(p).startsWith("file:");
    }

    /**
     * The directory the recorded run worked from (its relative paths start there), given that its run.out
     * ({@code recorded}) is {@code run}: "" for an absolute run.out, null when it is not {@code run}.
     */
    static String base(String recorded, String run) {
        String q = dir(run);
        if (absolute(recorded)) return dir(recorded).equals(q) ? "" : null;
        String rel = Path.of(recorded).normalize().toString();
        if (rel.isEmpty() || rel.startsWith("..")) return null;
        String suffix = "/" + rel.replace('\\', '/');
        return q.endsWith(suffix) ? q.substring(0, q.length() - suffix.length()) : null;
    }

    /** A path of the recorded config, qualified: a relative one taken from the run's working directory {@code base}. */
    static String resolve(String p, String base) {
        return dir(absolute(p) || base.isEmpty() ? p : base + "/" + p);
    }

    /** A directory's qualified path without a trailing slash (java.io.File adds one to an existing directory). */
    private static String dir(String p) {
        String q = StageOutput.qualify(p);
        return q.endsWith("/") ? q.substring(0, q.length() - 1) : q;
    }

    private static boolean absolute(String p) {
        return p.startsWith("/") || p.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:/.*");
    }

    private static Path path(String p) {
        return Path.of(java.net.URI.create(StageOutput.qualify(p)));
    }
}
