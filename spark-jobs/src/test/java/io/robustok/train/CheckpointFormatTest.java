package io.robustok.train;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The tensor file format, the lr schedule, the EMA rule, the epoch permutation and layout. */
class CheckpointFormatTest {

    @Test
    void safetensorsBytesFollowTheFormatAndRoundTrip() throws Exception {
        LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
        t.put("enc/w", Nd4j.create(new float[]{1, 2, 3, 4, 5, 6}, new long[]{2, 3}, DataType.FLOAT));
        t.put("enc/w_t", t.get("enc/w").transpose()); // a non-contiguous view is written in C order
        t.put("step", Nd4j.create(new long[]{7}, new long[]{1}, DataType.LONG));
        t.put("d", Nd4j.create(new double[]{0.5}, new long[]{1, 1}, DataType.DOUBLE));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SafeTensors.write(out, t, Map.of("round", "3"));
        byte[] b = out.toByteArray();

        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong();
        assertEquals(0, n % 8, "header padded to 8 bytes");
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"enc/w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"), header);
        assertTrue(header.contains("\"__metadata__\":{\"round\":\"3\"}"), header);
        assertEquals(8 + n + 24 + 24 + 8 + 8, b.length);
        assertEquals(1.0f, bb.getFloat(8 + (int) n), 0f);
        assertEquals(4.0f, bb.getFloat(8 + (int) n + 24 + 4), 0f, "transpose row 0 = 1, 4");

        SafeTensors.Contents c = SafeTensors.read(new ByteArrayInputStream(b));
        assertEquals(t.keySet(), c.tensors().keySet());
        for (String k : t.keySet()) {
            assertEquals(t.get(k).dataType(), c.tensors().get(k).dataType(), k);
            assertEquals(t.get(k), c.tensors().get(k), k);
        }
        assertEquals("3", c.metadata().get("round"));
    }

    /**
     * The metadata is written in key order, so the same tensors and metadata give the same bytes whatever map the
     * caller passed: a checkpoint's {@code Map.of} metadata iterates in an order that changes from JVM to JVM, and
     * a resumed run's checkpoint then differed in its header from the uninterrupted run's (ProcessKillTest).
     */
    @Test
    void metadataOrderDoesNotChangeTheBytes() throws Exception {
        LinkedHashMap<String, INDArray> t = new LinkedHashMap<>();
        t.put("w", Nd4j.create(new float[]{1, 2, 3}, new long[]{3}, DataType.FLOAT));
        LinkedHashMap<String, String> ab = new LinkedHashMap<>(), ba = new LinkedHashMap<>();
        ab.put("round", "7");
        ab.put("step", "14");
        ba.put("step", "14");
        ba.put("round", "7");
        ByteArrayOutputStream x = new ByteArrayOutputStream(), y = new ByteArrayOutputStream();
        SafeTensors.write(x, t, ab);
        SafeTensors.write(y, t, ba);
        assertArrayEquals(x.toByteArray(), y.toByteArray());
        assertEquals(ab, SafeTensors.read(new ByteArrayInputStream(y.toByteArray())).metadata());
    }

    @Test
    void lrScheduleWarmsUpLinearlyThenFollowsTheCosineToTheMinimum() {
        LrSchedule s = new LrSchedule(LrSchedule.Mode.STEP, 10, 110, 0.1);
        assertEquals(0.1, s.scale(0, 100), 1e-12);       // (0 + 1) / 10
        assertEquals(1.0, s.scale(9, 100), 1e-12);       // end of warm-up
        assertEquals(0.55, s.at(60), 1e-12);             // half way down the cosine: min + (1 - min) / 2
        assertEquals(0.1, s.scale(109, 100), 1e-12);     // end
        assertEquals(0.1, s.scale(500, 100), 1e-12);     // stays at the minimum
        LrSchedule e = new LrSchedule(LrSchedule.Mode.EPOCH, 1, 5, 0.2);
        assertEquals(0.5, e.scale(49, 100), 1e-12);      // half of the warm-up epoch done
        assertEquals(0.2 + 0.8 * 0.5 * (1 + Math.cos(Math.PI * 0.5)), e.scale(299, 100), 1e-12);
        assertEquals(1.0, LrSchedule.constant().scale(12345, 7));
    }

    @Test
    void emaOfARoundOfKStepsEqualsKStepsAtTheRoundsWeights() {
        INDArray w0 = Nd4j.create(new double[]{1, 2}, new long[]{2}, DataType.DOUBLE);
        INDArray w1 = Nd4j.create(new double[]{3, -1}, new long[]{2}, DataType.DOUBLE);
        Ema ema = new Ema(0.9, Map.of("w", w0));
        ema.update(Map.of("w", w1), 3);
        INDArray step = w0.dup();
        for (int i = 0; i < 3; i++) step = step.mul(0.9).add(w1.mul(0.1));
        assertEquals(step.getDouble(0), ema.params().get("w").getDouble(0), 1e-12);
        assertEquals(step.getDouble(1), ema.params().get("w").getDouble(1), 1e-12);
        assertEquals(1.0, w0.getDouble(0), "the EMA copies its start");
    }

    @Test
    void epochPermutationIsABijectionThatDependsOnTheSeed() {
        for (long n : new long[]{1, 2, 3, 17, 1000, 4097}) {
            SeededPermutation p = new SeededPermutation(n, 5);
            Set<Long> seen = new HashSet<>();
            for (long i = 0; i < n; i++) assertTrue(seen.add(p.apply(i)), "n=" + n);
        }
        SeededPermutation a = new SeededPermutation(1000, 1), b = new SeededPermutation(1000, 2);
        int same = 0;
        for (long i = 0; i < 1000; i++) if (a.apply(i) == b.apply(i)) same++;
        assertTrue(same < 20, "different seeds give different orders: " + same);
    }

    @Test
    void epochPlanGivesEveryWorkerOfARoundTheSameNumberOfRecords() {
        EpochPlan p = new EpochPlan(100, 2, 3, 4); // rounds of 2 x 3 x 4 = 24: 4 full, 4 left (< 2 x 4): skipped
        assertEquals(4, p.fullRounds());
        assertEquals(0, p.lastSteps());
        assertEquals(96, p.usedRows());
        EpochPlan q = new EpochPlan(115, 2, 3, 4); // 4 full rounds (96), 19 left -> 2 steps of 2 x 4
        assertEquals(2, q.lastSteps());
        assertEquals(5, q.rounds());
        assertEquals(14, q.stepsPerEpoch());
        int[] count = new int[q.rounds() * 2];
        for (long pos = 0; pos < q.usedRows(); pos++) count[q.partitionOf(pos)]++;
        for (int part = 0; part < 8; part++) assertEquals(12, count[part]);
        assertEquals(8, count[8]);
        assertEquals(8, count[9]);
    }
}
