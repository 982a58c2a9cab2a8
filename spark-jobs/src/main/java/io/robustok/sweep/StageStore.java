package io.robustok.sweep;

import io.robustok.spark.StageOutput;
import io.robustok.sweep.StageGraph.Node;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Stage outputs addressed by content: {@code <store>/<output>-<identity 12>/} (and its companions such as
 * {@code tokenizer-<id>.train/} with the checkpoints a rerun resumes from). {@link #computeOnce} runs a stage
 * under the entry's {@link StoreLock}, so of the runs that reach a missing entry at the same time one computes it
 * and the others find it complete; {@code _meta/<entry>.json} records who computed it, from which key values, and
 * how long it took.
 */
public final class StageStore {
    private static final Logger log = LoggerFactory.getLogger(StageStore.class);

    /**
     * How an entry was obtained: computed here, found complete, taken from an ordinary run's output (sweep.adopt),
     * or run without leaving a complete output.
     */
    public enum Outcome { COMPUTED, CACHED, ADOPTED, INCOMPLETE }

    public record Result(Outcome outcome, double seconds) {
    }

    private final String root;
    private final long leaseMillis;

    public StageStore(String root, long leaseMillis) {
        this.root = root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
        this.leaseMillis = leaseMillis;
    }

    public String root() {
        return root;
    }

    /** The entry's directory name: {@code <output>-<first 12 hex digits of the identity>}. */
    public static String entry(Node n, String identity) {
        return (n.shared() ? n.output() : n.stage()) + "-" + identity.substring(0, 12);
    }

    public String location(Node n, String identity) {
        return root + "/" + entry(n, identity);
    }

    public String metaPath(Node n, String identity) {
        return root + "/_meta/" + entry(n, identity) + ".json";
    }

    public boolean isComplete(Node n, String identity) {
        return n.shared() && StageOutput.isComplete(location(n, identity));
    }

    /**
     * Runs {@code work} unless the entry is complete, holding its lock; a stage without a store output (it writes
     * outside run.out and skips itself when done) always runs, under a lock named after {@code lockName}.
     */
    public Result computeOnce(Node n, String identity, String lockName, Map<String, Object> meta, Callable<?> work) throws Exception {
        return computeOnce(n, identity, lockName, meta, null, work);
    }

    /**
     * As above; when the entry is missing and {@code adoptFrom} names a committed output of an ordinary run that
     * qualifies for it ({@link RunAdoption}), that output's files are linked into the entry instead of running
     * {@code work}.
     */
    public Result computeOnce(Node n, String identity, String lockName, Map<String, Object> meta, String adoptFrom,
                              Callable<?> work) throws Exception {
        String name = n.shared() ? entry(n, identity) : n.stage() + "-" + StageGraph.sha256(lockName).substring(0, 12);
        String lockPath = root + "/_locks/" + name + ".lock";
        if (isComplete(n, identity)) {
            // a run killed between committing this entry and releasing its lock left the lock behind: clear it
            StoreLock.clearIfStale(lockPath, leaseMillis);
            return new Result(Outcome.CACHED, 0);
        }
        try (StoreLock ignored = StoreLock.acquire(lockPath, leaseMillis,
                holder -> log.info("{}: waiting for {} (being computed by {})", n.stage(), name, holder))) {
            if (isComplete(n, identity)) return new Result(Outcome.CACHED, 0);
            long t0 = System.nanoTime();
            Map<String, Object> m = new LinkedHashMap<>(meta);
            if (n.shared() && adoptFrom != null) {
                RunAdoption.linkInto(adoptFrom, location(n, identity));
                log.info("{}: took {} into the store as {} (same identity)", n.stage(), adoptFrom, entry(n, identity));
                m.put("adopted_from", StageOutput.qualify(adoptFrom));
                writeMeta(n, identity, m, StageOutput.readProvenance(location(n, identity)).getOrDefault("wall_s", 0));
                return new Result(Outcome.ADOPTED, (System.nanoTime() - t0) / 1e9);
            }
            work.call();
            double sec = (System.nanoTime() - t0) / 1e9;
            if (!n.shared()) return new Result(Outcome.COMPUTED, sec);
            if (!isComplete(n, identity)) return new Result(Outcome.INCOMPLETE, sec);
            writeMeta(n, identity, m, sec);
            return new Result(Outcome.COMPUTED, sec);
        }
    }

    /** _meta/<entry>.json: who made the entry, from which key values and inputs, and its compute seconds. */
    private void writeMeta(Node n, String identity, Map<String, Object> m, Object seconds) {
        m.put("stage", n.stage());
        m.put("identity", identity);
        m.put("location", location(n, identity));
        m.put("seconds", seconds);
        m.put("finished", java.time.Instant.now().toString());
        io.robustok.jobs.TrainFiles.write(metaPath(n, identity),
                (StageOutput.toJsonLine(m) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** What {@code _meta/<entry>.json} says (empty when the entry was committed without it). */
    @SuppressWarnings("unchecked")
    public Map<String, Object> meta(Node n, String identity) {
        String p = metaPath(n, identity);
        try {
            org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(StageOutput.qualify(p));
            org.apache.hadoop.fs.FileSystem fs = StageOutput.fs(p);
            if (!fs.exists(path)) return Map.of();
            try (java.io.InputStream in = fs.open(path)) {
                return new com.fasterxml.jackson.databind.ObjectMapper().readValue(in, Map.class);
            }
        } catch (java.io.IOException e) {
            return Map.of();
        }
    }
}
