#!/usr/bin/env bash
# Feature extraction throughput of the demo feature network (32x32, batch 100). From the repository root:
#   bench/fid/extract.sh [images] [passes]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mvn -B -o -q -pl eval test-compile
CP=$(mvn -B -o -q -pl eval dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test)
java -cp "eval/target/classes:eval/target/test-classes:$CP" io.robustok.eval.ExtractBench "${1:-1000}" "${2:-5}"
