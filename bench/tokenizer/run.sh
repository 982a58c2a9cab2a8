#!/usr/bin/env bash
# Tokenizer training-step throughput (io.robustok.tokenizer.TokenizerBench in model's test sources).
# Usage (from the repository root): bench/tokenizer/run.sh [-Dbench.patch=8] [-Dbench.gan=true] [-Dbench.paper=true]
#   ND4J_EXTENSION= (empty) runs the plain libnd4j build instead of the oneDNN one the project uses.
#   [-Dbench.batch=N] [-Dbench.steps=N] [-Dbench.profile=true]      (OMP_NUM_THREADS is respected, default 2)
#   Paper scale with every loss (LPIPS, DINOv2 init + semantic loss, DINO discriminator; random weight files):
#   bench/tokenizer/run.sh -Dbench.paper=true -Dbench.all=true -Dbench.batch=2 -Dbench.steps=3
#   and the same step in PyTorch: /usr/bin/python3 model/src/test/python/reference.py bench --batch 2 --steps 3
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mvn -B -o -q install -pl .,core -DskipTests
mvn -B -o -q -pl model test-compile
mvn -B -o -q -pl model dependency:build-classpath -Dmdep.outputFile=target/tokenizer-bench.cp >/dev/null
exec java --add-modules=jdk.incubator.vector -Xmx3g -Dorg.bytedeco.javacpp.platform.extension=${ND4J_EXTENSION--onednn} -Dorg.bytedeco.javacpp.maxbytes=12g -Dorg.bytedeco.javacpp.maxphysicalbytes=0 "$@" \
  -cp "model/target/classes:model/target/test-classes:$(cat model/target/tokenizer-bench.cp)" io.robustok.tokenizer.TokenizerBench
