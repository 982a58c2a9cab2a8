#!/usr/bin/env bash
# Simulated GPU executors: the averaging cost of our parameter-averaging master for model sizes P, 1-8 one-core
# executors and averaging frequencies 1/5/20/50, with a step that sleeps (the GPU's time) instead of computing.
# Usage: bench/trainer/sim.sh [params=1000000,20000000] [executors=1,2,4,8] [freq=1,5,20,50] [rounds=4]
#        [step-ms=20] [steps-ms=40,80,160] [moments=1] [executor-memory=1g] [nd4j-maxbytes=2g]
#        ["trainer=transfer-format=bfloat16"] [out=bench/trainer/sim-results.json]
# DRIVER_OPTS sets the driver JVM's options (default -Xmx2g); see bench/trainer/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
MAIN=io.robustok.train.SimulatedScalingBenchmark exec bench/trainer/run.sh "$@"
