#!/usr/bin/env bash
# Fréchet distance at d=2048: ours vs scipy.linalg.sqrtm (pytorch-fid). Run from the repository root:
#   bench/fid/run.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
mvn -B -o -q install -pl .,core -DskipTests
mvn -B -o -q -pl eval test-compile
CP=$(mvn -B -o -q -pl eval dependency:build-classpath -Dmdep.outputFile=/dev/stdout -Dmdep.includeScope=test)
[ -f bench/fid/work/stats2048.npz ] || python3 bench/fid/frechet_vs_scipy.py gen
java -cp "eval/target/classes:eval/target/test-classes:$CP" io.robustok.eval.FrechetBench bench/fid/work "$RUNS"
python3 bench/fid/frechet_vs_scipy.py scipy "$RUNS"
python3 bench/fid/frechet_vs_scipy.py compare
