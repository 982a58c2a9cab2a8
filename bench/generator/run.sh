#!/usr/bin/env bash
# Generator throughput: sampling tokens/s at T = 256 with and without the KV cache, training tokens/s.
# Usage (from the repository root): bench/generator/run.sh [repetitions]   (OMP_NUM_THREADS is respected)
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -o -q install -pl .,core -DskipTests
mvn -B -o -q -pl model test-compile
mvn -B -o -q -pl model dependency:build-classpath -Dmdep.outputFile=target/generator-bench.cp >/dev/null
exec java --add-modules=jdk.incubator.vector -Xmx3g -Dorg.bytedeco.javacpp.platform.extension=${ND4J_EXTENSION--onednn} -cp "model/target/classes:model/target/test-classes:$(cat model/target/generator-bench.cp)" \
  io.robustok.generator.GeneratorBench "${1:-3}"
