package io.robustok.sweep;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RankCorrelationTest {
    // x has a tie (2, 2), y has a tie (3, 3)
    static final double[] X = {1, 2, 2, 4, 5};
    static final double[] Y = {2, 1, 3, 3, 6};

    @Test
    void spearmanWithTiesIsPearsonOfAverageRanks() {
        // by hand: ranks x = 1, 2.5, 2.5, 4, 5 and y = 2, 1, 3.5, 3.5, 5 (means 3); deviations x -2, -.5, -.5, 1, 2 and
        // y -1, -2, .5, .5, 2; sum of products 7.25, sums of squares 9.5 and 9.5: rho = 7.25 / 9.5
        // (scipy.stats.spearmanr gives 0.7631578947368421)
        assertEquals(7.25 / 9.5, RankCorrelation.spearman(X, Y), 1e-12);
    }

    @Test
    void kendallWithTiesIsTauB() {
        // by hand over the 10 pairs: 7 concordant, 1 discordant (1-2), 1 tied in x only (2-3), 1 tied in y only (3-4):
        // tau-b = (7 - 1) / sqrt((10 - 1) (10 - 1)) = 6 / 9 (scipy.stats.kendalltau gives 0.6666666666666666)
        assertEquals(6.0 / 9.0, RankCorrelation.kendall(X, Y), 1e-12);
    }

    @Test
    void reversingOneVariableNegatesBoth() {
        double[] negY = new double[Y.length];
        for (int i = 0; i < Y.length; i++) negY[i] = -Y[i];
        assertEquals(-7.25 / 9.5, RankCorrelation.spearman(X, negY), 1e-12);
        assertEquals(-6.0 / 9.0, RankCorrelation.kendall(X, negY), 1e-12);
    }

    @Test
    void bootstrapOfAPerfectOrderingIsOneAndIsSeeded() {
        double[] x = {10, 20, 30, 40, 50, 60}, y = {1.5, 2.5, 2.7, 3.0, 8.0, 9.0};
        RankCorrelation.Interval a = RankCorrelation.bootstrap(x, y, RankCorrelation::spearman, 500, 0.95, 42);
        assertEquals(1.0, a.estimate(), 1e-12);
        // every resample keeps the order (ties from repeats are ties in both): its rho is 1 whenever defined
        assertEquals(1.0, a.low(), 1e-12);
        assertEquals(1.0, a.high(), 1e-12);
        assertTrue(a.resamples() > 450 && a.resamples() <= 500, "resamples with variation: " + a.resamples());
        assertEquals(a, RankCorrelation.bootstrap(x, y, RankCorrelation::spearman, 500, 0.95, 42));
    }

    @Test
    void bootstrapIntervalBracketsTheEstimateOnNoisyData() {
        RankCorrelation.Interval t = RankCorrelation.bootstrap(X, Y, RankCorrelation::kendall, 2000, 0.9, 7);
        assertTrue(t.low() <= t.estimate() && t.estimate() <= t.high(), t.toString());
        assertTrue(t.low() < t.high(), t.toString());
        assertTrue(t.low() >= -1 && t.high() <= 1, t.toString());
    }

    @Test
    void tooFewVariantsGiveNoInterval() {
        RankCorrelation.Interval r = RankCorrelation.bootstrap(new double[]{1}, new double[]{2}, RankCorrelation::spearman, 100, 0.95, 1);
        assertTrue(Double.isNaN(r.estimate()) && Double.isNaN(r.low()) && r.resamples() == 0);
    }
}
