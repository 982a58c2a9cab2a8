package io.robustok.train;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OffHeapCollectorTest {
    @Test
    void collectsAtMostOncePerInterval() {
        AtomicLong now = new AtomicLong(1_000);
        AtomicInteger runs = new AtomicInteger();
        OffHeapCollector c = new OffHeapCollector(100, now::get, runs::incrementAndGet);
        assertFalse(c.maybeCollect(), "no collection before the first interval has passed");
        now.addAndGet(99);
        assertFalse(c.maybeCollect());
        now.addAndGet(1);
        assertTrue(c.maybeCollect());
        assertFalse(c.maybeCollect(), "a second call at the same time must not collect again");
        now.addAndGet(250);
        assertTrue(c.maybeCollect());
        assertEquals(2, runs.get());
    }

    @Test
    void zeroIntervalTurnsItOff() {
        AtomicInteger runs = new AtomicInteger();
        OffHeapCollector c = new OffHeapCollector(0, System::nanoTime, runs::incrementAndGet);
        assertFalse(c.maybeCollect());
        assertEquals(0, runs.get());
    }
}
