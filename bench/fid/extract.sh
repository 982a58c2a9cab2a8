#!/usr/bin/env bash
# Feature extraction throughput of both extractors. From the repository root:
#   bench/fid/extract.sh [demo-images] [passes] [inception-images] [inception-side]
# demo: the demo feature network on 32x32 uint8 batches of 100;
# inception: the full-size Inception-v3 graph in ADM's layout (random weights, same cost) on side x side
# uint8 batches of 10 (ADM feeds samples at their resolution; the graph resizes to 299).
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mvn -B -o -q -pl eval test-compile
CP=$(mvn -B -o -q -pl eval dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test)
JAVA="java --add-modules=jdk.incubator.vector -Dorg.bytedeco.javacpp.platform.extension=${ND4J_EXTENSION--onednn} -Dorg.bytedeco.javacpp.maxbytes=8g -Dorg.bytedeco.javacpp.maxphysicalbytes=12g -cp eval/target/classes:eval/target/test-classes:$CP"
$JAVA io.robustok.eval.ExtractBench "${1:-1000}" "${2:-5}"
$JAVA io.robustok.eval.InceptionBench "${3:-40}" 10 "${2:-5}" "${4:-256}"
