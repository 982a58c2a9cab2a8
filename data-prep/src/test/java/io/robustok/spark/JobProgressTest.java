package io.robustok.spark;

import io.robustok.config.Settings;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JobProgressTest {
    private static final java.util.concurrent.atomic.AtomicBoolean RELEASE = new java.util.concurrent.atomic.AtomicBoolean();

    @Test
    void lineCarriesCountRateElapsedAndEtaAtTheRateSoFar() {
        // 10 of 40 tasks in 20 s: 0.5 tasks/s, 30 tasks left -> 60 s
        assertEquals("progress: count at Prep.java:95: 10/40 tasks (25%), 0.50 tasks/s, elapsed 20 s, eta 1:00",
                JobProgress.line("count at Prep.java:95", 10, 40, 20));
        assertEquals("progress: x: 0/8 tasks (0%), 0.00 tasks/s, elapsed 1:05, eta ?", JobProgress.line("x", 0, 8, 65));
        assertEquals("1:01:01", JobProgress.clock(3661));
        // items: 12800 of 50000 in 320 s: 40/s, 37200 left -> 930 s
        assertEquals("progress: tokenize train images: 12800/50000 (26%), 40.0/s, elapsed 5:20, eta 15:30",
                JobProgress.itemLine("tokenize train images", 12800, 50000, 320));
    }

    @Test
    void itemsCountedInsideRunningTasksReachTheDriverWithHeartbeats() throws Exception {
        SparkSession spark = SparkRuntime.session(Settings.load(null, List.of("spark.master=\"local[2]\"",
                "spark.conf.\"spark.executor.heartbeatInterval\"=\"1s\"")));
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        JobProgress listener = new JobProgress(3600);
        spark.sparkContext().addSparkListener(listener);
        try {
            LongAccumulator acc = JobProgress.items(jsc, "test items", 200);
            List<Integer> data = new ArrayList<>();
            for (int i = 0; i < 200; i++) data.add(i);
            // Tasks in local mode run in this JVM: each counts its items, then holds (at most 60 s) until
            // the driver's listener has seen a count from the still-running tasks. Deterministic whatever
            // the heartbeat interval of a session another test may have created first.
            RELEASE.set(false);
            Thread job = new Thread(() -> jsc.parallelize(data, 2).foreach(i -> {
                acc.add(1);
                long until = System.currentTimeMillis() + 60_000;
                while (!RELEASE.get() && System.currentTimeMillis() < until) Thread.sleep(20);
            }));
            job.start();
            long seenMidway = -1;
            long end = System.currentTimeMillis() + 90_000;
            while (job.isAlive() && System.currentTimeMillis() < end) {
                long d = listener.itemsDone("test items");
                if (d > 0 && d < 200 && seenMidway < 0) {
                    seenMidway = d;
                    RELEASE.set(true);
                }
                Thread.sleep(50);
            }
            RELEASE.set(true);
            job.join(60_000);
            assertTrue(seenMidway > 0, "a count from running tasks arrived before they ended");
            assertEquals(200, acc.value());
            assertEquals(200, listener.itemsDone("test items"), "finished tasks add their final counts");
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
    }
}
