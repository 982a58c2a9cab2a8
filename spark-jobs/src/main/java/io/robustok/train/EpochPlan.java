package io.robustok.train;

import java.io.Serializable;

/**
 * How one epoch of {@code rows} records is cut into rounds: a round gives each of {@code workers} workers
 * {@code frequency} minibatches of {@code batch} records. Records are laid out by their shuffled position p:
 * full rounds first (round = p / (W F B), worker = (p mod W F B) / (F B)); the rest forms a last, shorter
 * round of {@code lastSteps} steps per worker, and the fewer than W B records left after it are skipped this
 * epoch (a different few each epoch, since the shuffle changes). Every worker of a round gets the same number
 * of records, so sample weighting and plain averaging agree.
 */
record EpochPlan(long rows, int workers, int frequency, int batch) implements Serializable {

    EpochPlan {
        if (workers <= 0 || frequency <= 0 || batch <= 0) throw new IllegalArgumentException("workers, frequency, batch must be > 0");
    }

    long roundRows() {
        return (long) workers * frequency * batch;
    }

    long fullRounds() {
        return rows / roundRows();
    }

    /** Steps per worker in the last, partial round (0: none). */
    int lastSteps() {
        return (int) ((rows % roundRows()) / ((long) workers * batch));
    }

    int rounds() {
        long r = fullRounds() + (lastSteps() > 0 ? 1 : 0);
        if (r > Integer.MAX_VALUE / Math.max(1, workers)) throw new IllegalArgumentException("too many rounds per epoch: " + r);
        return (int) r;
    }

    /** Records used per epoch. */
    long usedRows() {
        return fullRounds() * roundRows() + (long) lastSteps() * workers * batch;
    }

    long stepsPerEpoch() {
        return fullRounds() * frequency + lastSteps();
    }

    int stepsInRound(int round) {
        return round < fullRounds() ? frequency : lastSteps();
    }

    /** First global step of {@code round} within its epoch, counted from the epoch start. */
    long stepOffset(int round) {
        return (long) round * frequency;
    }

    /** Partition (round * workers + worker) of shuffled position {@code p} (< usedRows()). */
    int partitionOf(long p) {
        long full = fullRounds() * roundRows();
        long round;
        long worker;
        if (p < full) {
            round = p / roundRows();
            worker = (p % roundRows()) / ((long) frequency * batch);
        } else {
            round = fullRounds();
            worker = (p - full) / ((long) lastSteps() * batch);
        }
        return (int) (round * workers + worker);
    }
}
