#!/usr/bin/env bash
# Side by side: this project's step against the same model in PyTorch (bench/torch/twins.py), same sizes and batch,
# at each thread count given (OMP_NUM_THREADS for ND4J, torch.set_num_threads for PyTorch), with the ratio.
# Usage (from the repository root): bench/torch/compare.sh {tokenizer|generator|paper|inception} [threads ...]
#   default threads: 1 2. The PyTorch side needs Debian's python3-torch (and python3-torchvision for inception) and
#   libopenblas0-pthread (without it torch runs on the reference BLAS, ~10x slower: twins.py warns);
#   without it the PyTorch column is skipped with a message. Env: STEPS (Java/PyTorch timed steps), PY (python),
#   OURS_CLASSES (a classes directory put first on the Java classpath, e.g. a build of an older commit: before/after),
#   ND4J_MAXPHYSICALBYTES (JavaCPP collects garbage above it; default 0, off; builds from before ResidentSizeWatch
#   need it at paper scale, e.g. 16g, or their dead buffers pile up to an out-of-memory kill), JAVA_GC (the Java
#   side's collector options; default "-XX:+UseParallelGC -Xmn512m" as bin/robustok, empty: the JVM's G1).
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:?usage: bench/torch/compare.sh tokenizer|generator|paper|inception [threads ...]}
shift
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
PY=${PY:-/usr/bin/python3}
case "$what" in
  tokenizer|generator|paper) module=model ;;
  inception) module=eval ;;
  *) echo "unknown model family '$what': expected tokenizer, generator, paper or inception" >&2; exit 2 ;;
esac
mvn -B -o -q install -pl .,core -DskipTests
[ "$module" = eval ] && mvn -B -o -q install -pl model -DskipTests
mvn -B -o -q -pl "$module" test-compile
mvn -B -o -q -pl "$module" dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/compare.cp >/dev/null
# the collector bin/robustok runs (JAVA_GC= empty: the JVM's default, G1)
JAVA=(java --add-modules=jdk.incubator.vector -Xmx3g ${JAVA_GC--XX:+UseParallelGC -Xmn512m} -Dorg.bytedeco.javacpp.platform.extension=${ND4J_EXTENSION--onednn} -Dorg.bytedeco.javacpp.maxbytes=12g -Dorg.bytedeco.javacpp.maxphysicalbytes=${ND4J_MAXPHYSICALBYTES:-0}
  -cp "${OURS_CLASSES:+$OURS_CLASSES:}$module/target/classes:$module/target/test-classes:$(cat $module/target/compare.cp)")
torch_ok=1
if ! "$PY" -c 'import torch' 2>/dev/null; then
  torch_ok=0
  echo "PyTorch column skipped: '$PY' cannot import torch (Debian: apt-get install python3-torch python3-torchvision libopenblas0-pthread)"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in "${threads[@]}"; do
  case "$what" in
    tokenizer)
      ours=$(OMP_NUM_THREADS=$t "${JAVA[@]}" -Dbench.patch=8 -Dbench.steps=${STEPS:-40} io.robustok.tokenizer.TokenizerBench | grep '^BENCH')
      rate_ours=$(sed -E 's/.* = ([0-9.]+) images\/s = .*/\1/' <<<"$ours"); unit="images/s"
      twin_args=(tokenizer --patch 8 --steps ${STEPS:-10}) ;;
    paper)
      # two warm-up steps: after one, the first timed step still ran at about twice the others
      ours=$(OMP_NUM_THREADS=$t "${JAVA[@]}" -Dbench.paper=true -Dbench.warmup=2 -Dbench.steps=${STEPS:-2} io.robustok.tokenizer.TokenizerBench | grep '^BENCH')
      rate_ours=$(sed -E 's/.* = ([0-9.]+) images\/s = .*/\1/' <<<"$ours"); unit="images/s"
      twin_args=(tokenizer --paper --steps ${STEPS:-2}) ;;
    generator)
      ours=$(OMP_NUM_THREADS=$t "${JAVA[@]}" -Dbench.train-only=true -Dbench.tokens=16 -Dbench.steps=${STEPS:-30} io.robustok.generator.GeneratorBench | grep '^training')
      rate_ours=$(sed -E 's/.*\(([0-9.]+) sequences\/s\).*/\1/' <<<"$ours"); unit="sequences/s"
      twin_args=(generator --tokens 16 --steps ${STEPS:-10}) ;;
    inception)
      ours=$(OMP_NUM_THREADS=$t "${JAVA[@]}" io.robustok.eval.InceptionBench 30 10 ${STEPS:-3} 256 | grep images_per_s_median)
      rate_ours=$(sed -E 's/.*"images_per_s_median": ([0-9.]+).*/\1/' <<<"$ours"); unit="images/s"
      twin_args=(inception --batch 10 --size 256 --steps ${STEPS:-3}) ;;
  esac
  echo "ours   threads=$t: $ours"
  if [ $torch_ok = 1 ]; then
    # Debian's torch does its GEMMs in OpenBLAS, whose own thread pool ignores torch.set_num_threads: without these
    # variables a "1 thread" PyTorch step ran on both cores (process CPU time above wall time)
    twin=$(OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t "$PY" bench/torch/twins.py "${twin_args[@]}" --threads "$t" | grep '^TWIN')
    echo "torch  threads=$t: $twin"
    rate_twin=$(sed -E "s/.* = ([0-9.]+) ${unit//\//\\/} .*/\1/" <<<"$twin")
    echo "RESULT $what threads=$t ours=$rate_ours torch=$rate_twin $unit ratio=$(awk -v a="$rate_ours" -v b="$rate_twin" 'BEGIN{printf "%.2f", a/b}')x load=$(cut -d' ' -f1 /proc/loadavg)"
  else
    echo "RESULT $what threads=$t ours=$rate_ours $unit (no PyTorch) load=$(cut -d' ' -f1 /proc/loadavg)"
  fi
done
