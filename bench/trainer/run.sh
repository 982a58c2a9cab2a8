#!/usr/bin/env bash
# Trainer benchmark: our parameter-averaging master on 1 and 2 one-core executors (standalone cluster of
# separate JVMs on 127.0.0.1) at averaging frequencies 1/5/20, and DL4J's ParameterAveragingTrainingMaster on
# the same ComputationGraph. Usage: bench/trainer/run.sh [runs=3] [rows=10240] [freq=1,5,20] [executors=1,2] [dl4j=true]
# MAIN=io.robustok.train.SimulatedScalingBenchmark runs the simulated-GPU-executor benchmark (bench/trainer/sim.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
OFFLINE=${OFFLINE--o}
# SKIP_INSTALL=1 uses the upstream modules already installed in ~/.m2
[ "${SKIP_INSTALL:-0}" = 1 ] || [ "${SKIP_BUILD:-0}" = 1 ] || mvn -B $OFFLINE -q install -pl .,core,model,data-prep,eval -DskipTests
# SKIP_BUILD=1 runs the classes already compiled under spark-jobs/target
[ "${SKIP_BUILD:-0}" = 1 ] || mvn -B $OFFLINE -q -pl spark-jobs test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test
# a private copy of the compiled classes: executors load classes lazily, a concurrent rebuild must not pull them away
SNAP="${TMPDIR:-/tmp}/robustok-bench-classes"
rm -rf "$SNAP" && mkdir -p "$SNAP" && cp -r spark-jobs/target/classes "$SNAP/classes" && cp -r spark-jobs/target/test-classes "$SNAP/test-classes"
DEPS=""
for j in $(tr ':' ' ' < spark-jobs/target/bench.classpath); do
  # the project's own modules come from this checkout's target/ (the jar under ~/.m2 may be another checkout's)
  case "$j" in */io/robustok/*)
    m=$(basename "$j" | sed -E 's/^robustok-(.*)-[0-9][^-]*(-SNAPSHOT)?\.jar$/\1/')
    if [ -f "$m/target/$(basename "$j")" ]; then cp "$m/target/$(basename "$j")" "$SNAP/"; else cp "$j" "$SNAP/"; fi
    j="$SNAP/$(basename "$j")" ;;
  esac
  DEPS="$DEPS:$j"
done
CP="$SNAP/test-classes:$SNAP/classes$DEPS"
OPENS="--add-modules=jdk.incubator.vector --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false -Dio.netty.tryReflectionSetAccessible=true"
export SPARK_LOCAL_IP=127.0.0.1 OMP_NUM_THREADS=1
exec java ${DRIVER_OPTS:--Xmx2g} -Dorg.bytedeco.javacpp.platform.extension=${ND4J_EXTENSION--onednn} $OPENS -cp "$CP" ${MAIN:-io.robustok.train.TrainerBenchmark} "$@"
