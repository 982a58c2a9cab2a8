#!/usr/bin/env bash
# Post-training throughput, one worker: pair generation vs sampling (tokens/s), post-train vs main training (images/s).
# Usage (from the repository root): bench/posttrain/run.sh [repetitions]   (OMP_NUM_THREADS is respected)
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -o -q install -pl .,core -DskipTests
mvn -B -o -q -pl model test-compile
mvn -B -o -q -pl model dependency:build-classpath -Dmdep.outputFile=target/posttrain-bench.cp >/dev/null
exec java --add-modules=jdk.incubator.vector -Xmx3g -Dorg.bytedeco.javacpp.platform.extension=${ND4J_EXTENSION--onednn} -cp "model/target/classes:model/target/test-classes:$(cat model/target/posttrain-bench.cp)" \
  io.robustok.tokenizer.PostTrainBench "${1:-5}"
