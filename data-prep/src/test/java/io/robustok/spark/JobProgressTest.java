package io.robustok.spark;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JobProgressTest {
    @Test
    void lineCarriesCountRateElapsedAndEtaAtTheRateSoFar() {
        // 10 of 40 tasks in 20 s: 0.5 tasks/s, 30 tasks left -> 60 s
        assertEquals("progress: count at Prep.java:95: 10/40 tasks (25%), 0.50 tasks/s, elapsed 20 s, eta 1:00",
                JobProgress.line("count at Prep.java:95", 10, 40, 20));
        assertEquals("progress: x: 0/8 tasks (0%), 0.00 tasks/s, elapsed 1:05, eta ?", JobProgress.line("x", 0, 8, 65));
        assertEquals("1:01:01", JobProgress.clock(3661));
    }
}
