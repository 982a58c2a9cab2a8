package io.robustok.train;

import org.apache.spark.Partitioner;

/** Sends the record at shuffled position p to partition round x workers + worker of {@link EpochPlan}. */
final class RoundPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final EpochPlan plan;

    RoundPartitioner(EpochPlan plan) {
        this.plan = plan;
    }

    @Override
    public int numPartitions() {
        return plan.rounds() * plan.workers();
    }

    @Override
    public int getPartition(Object key) {
        return plan.partitionOf((Long) key);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RoundPartitioner r && r.plan.equals(plan);
    }

    @Override
    public int hashCode() {
        return plan.hashCode();
    }
}
