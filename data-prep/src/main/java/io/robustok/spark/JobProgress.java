package io.robustok.spark;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
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
 */
public final class JobProgress extends SparkListener {
    private static final Logger log = LoggerFactory.getLogger(JobProgress.class);

    private record Running(String name, int tasks, long started, AtomicInteger done) {
    }

    private final Map<Integer, Running> running = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;

    private JobProgress(long intervalSeconds) {
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

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s < 60 ? s + " s" : s < 3600 ? String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
