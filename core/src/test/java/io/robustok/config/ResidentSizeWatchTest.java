package io.robustok.config;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResidentSizeWatchTest {
    @Test
    void collectsAboveTheLimitAndPausesBetweenCollections() {
        AtomicLong rss = new AtomicLong(500), now = new AtomicLong(0);
        AtomicInteger runs = new AtomicInteger();
        ResidentSizeWatch w = new ResidentSizeWatch(1000, 100, rss::get, now::get, () -> {
            runs.incrementAndGet();
            rss.set(1200); // live data above the limit: the collection did not bring it down
        });
        assertFalse(w.check(), "below the limit");
        rss.set(1500);
        assertTrue(w.check());
        now.addAndGet(50);
        assertFalse(w.check(), "within the pause after a collection");
        now.addAndGet(50);
        assertTrue(w.check());
        rss.set(900);
        now.addAndGet(500);
        assertFalse(w.check(), "back under the limit");
        assertEquals(2, runs.get());
        assertEquals(2, w.collections());
    }

    @Test
    void zeroLimitTurnsItOff() {
        AtomicInteger runs = new AtomicInteger();
        ResidentSizeWatch w = new ResidentSizeWatch(0, 0, () -> Long.MAX_VALUE, System::nanoTime, runs::incrementAndGet);
        assertFalse(w.check());
        assertEquals(0, runs.get());
    }

    @Test
    void limitParsesSizesAndDefaultsToHalfThePhysicalMemory() {
        assertEquals(12L << 30, ResidentSizeWatch.limit("12g", 0));
        assertEquals(800L << 20, ResidentSizeWatch.limit(" 800M ", 0));
        assertEquals(4096, ResidentSizeWatch.limit("4096", 0));
        assertEquals(0, ResidentSizeWatch.limit("0", 1 << 30));
        assertEquals(12L << 30, ResidentSizeWatch.limit(null, 24L << 30));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ResidentSizeWatch.limit("lots", 0));
        assertTrue(e.getMessage().contains(ResidentSizeWatch.PROPERTY), e.getMessage());
    }
}
