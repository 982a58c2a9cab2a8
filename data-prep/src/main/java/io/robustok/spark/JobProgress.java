package io.robustok.spark;

import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple4;
import scala.collection.JavaConverters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Progress of every Spark stage that runs longer than one interval, logged at a steady interval from the driver:
 * <pre>progress: mapPartitions at TokenizeStage.java:84: 12/40 tasks (30%), 0.41 tasks/s, elapsed 29 s, eta 68 s</pre>
 * so that prep shards, tokenizing, feature extraction, sampling and training rounds never leave a stage silent
 * for longer than {@code run.progress-seconds}. Short stages (the usual case at demo scale) log nothing.
 * <p>Inside long tasks, a stage counts its items with {@link #items}: executors report the count with their
 * heartbeats, and the line reads in items (images, samples) with their rate and ETA:
 * <pre>progress: tokenize train images: 12800/50000 (26%), 41.3/s, elapsed 5:10, eta 15:00</pre>
 */
public final class JobProgress extends SparkListener {
    private static final Logger log = LoggerFactory.getLogger(JobProgress.class);

    private record Running(String name, int tasks, long started, AtomicInteger done) {
    }

    private final Map<Integer, Running> running = new ConcurrentHashMap<>();
    /** Item counters by accumulator id: the total of finished tasks and the last reported count of running ones. */
    private final Map<Long, Items> items = new ConcurrentHashMap<>();

    private static final String PREFIX = "robustok.progress|";

    private static final class Items {
        final String what;
        final long total;
        final long started = System.nanoTime();
        long finished;
        final Map<Long, Long> runningTasks = new ConcurrentHashMap<>();

        Items(String what, long total) {
            this.what = what;
            this.total = total;
        }

        synchronized long done() {
            long d = finished;
            for (long v : runningTasks.values()) d += v;
            return d;
        }
    }

    /**
     * A counter of {@code total} items ({@code what}, e.g. "tokenize train images") that tasks add to as they go;
     * the progress line then reports items, not tasks.
     */
    public static LongAccumulator items(JavaSparkContext jsc, String what, long total) {
        return jsc.sc().longAccumulator(PREFIX + what + "|" + total);
    }
    private final ScheduledExecutorService timer;

    JobProgress(long intervalSeconds) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "robustok-progress");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(this::report, intervalSeconds, intervalSeconds, TimeUnit.SECONDS);
    }

    /** Registers a reporter on {@code sc} (once per context); {@code intervalSeconds} <= 0 turns it off. */
    static void install(SparkContext sc, long intervalSeconds) {
        if (intervalSeconds > 0) sc.addSparkListener(new JobProgress(intervalSeconds));
    }

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted e) {
        StageInfo s = e.stageInfo();
        running.put(s.stageId(), new Running(s.name(), s.numTasks(), System.nanoTime(), new AtomicInteger()));
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd e) {
        Running r = running.get(e.stageId());
        if (r != null && e.taskInfo().successful()) r.done().incrementAndGet();
        for (AccumulableInfo a : JavaConverters.seqAsJavaList(e.taskInfo().accumulables())) {
            Items c = counter(a);
            if (c == null) continue;
            synchronized (c) {
                c.runningTasks.remove(e.taskInfo().taskId());
                if (e.taskInfo().successful() && a.update().isDefined()) c.finished += ((Number) a.update().get()).longValue();
            }
        }
    }

    /** Executors' heartbeats carry the counts of running tasks. */
    @Override
    public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
        for (Tuple4<Object, Object, Object, scala.collection.Seq<AccumulableInfo>> t : JavaConverters.seqAsJavaList(e.accumUpdates())) {
            for (AccumulableInfo a : JavaConverters.seqAsJavaList(t._4())) {
                Items c = counter(a);
                if (c != null && a.update().isDefined()) c.runningTasks.put((Long) t._1(), ((Number) a.update().get()).longValue());
            }
        }
    }

    /** Items counted so far by the counter named {@code what}, or -1 (tests). */
    long itemsDone(String what) {
        for (Items c : items.values()) if (c.what.equals(what)) return c.done();
        return -1;
    }

    private Items counter(AccumulableInfo a) {
        if (!a.name().isDefined() || !a.name().get().startsWith(PREFIX)) return null;
        return items.computeIfAbsent(a.id(), id -> {
            String[] p = a.name().get().split("\\|");
            return new Items(p[1], Long.parseLong(p[2]));
        });
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted e) {
        running.remove(e.stageInfo().stageId());
    }

    @Override
    public void onApplicationEnd(SparkListenerApplicationEnd e) {
        timer.shutdownNow();
    }

    private void report() {
        long now = System.nanoTime();
        for (Map.Entry<Long, Items> e : items.entrySet()) {
            Items c = e.getValue();
            long done = c.done();
            double elapsed = (now - c.started) / 1e9;
            if (done >= c.total) items.remove(e.getKey());
            else if (elapsed >= 5) log.info(itemLine(c.what, done, c.total, elapsed));
        }
        for (Running r : running.values()) {
            double elapsed = (now - r.started()) / 1e9;
            if (elapsed < 5) continue;
            log.info(line(r.name(), r.done().get(), r.tasks(), elapsed));
        }
    }

    /** One progress line: done/total, rate, elapsed and the ETA at the rate so far ("?" before the first task ends). */
    static String line(String name, int done, int total, double elapsedSeconds) {
        double rate = done / elapsedSeconds;
        String eta = done == 0 ? "?" : clock((total - done) / rate);
        return String.format(Locale.ROOT, "progress: %s: %d/%d tasks (%.0f%%), %.2f tasks/s, elapsed %s, eta %s", name, done, total,
                100.0 * done / Math.max(1, total), rate, clock(elapsedSeconds), eta);
    }

    /** done/total items, rate, elapsed, ETA. */
    static String itemLine(String what, long done, long total, double elapsedSeconds) {
        double rate = done / elapsedSeconds;
        return String.format(Locale.ROOT, "progress: %s: %d/%d (%.0f%%), %.1f/s, elapsed %s, eta %s", what, done, total,
                100.0 * done / Math.max(1, total), rate, clock(elapsedSeconds), done == 0 ? "?" : clock((total - done) / rate));
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s < 60 ? s + " s" : s < 3600 ? String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
