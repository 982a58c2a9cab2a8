#!/usr/bin/env bash
# Cost of rerunning a finished N-variant sweep (every stage output already in the store): what a person pays to
# re-tabulate a sweep or check that nothing is missing. Target: under 20 s + 1 s per variant on 2 cores.
# Usage (from the repository root): bench/sweep/run.sh [N variants, default 8] [reruns, default 3]
# Work lands in bench/sweep/work/ (Fashion-MNIST from the Debian package, tiny models so the first run is short;
# the variants differ in eval.pfid.delta, so the first run computes prep, a tokenizer, a generator and the feature
# network once and an eval per variant). Prints each rerun's wall time and the median. BENCH_NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-8}
REPS=${2:-3}
W=bench/sweep/work
mkdir -p "$W"
[ "${BENCH_NO_BUILD:-0}" = 1 ] || mvn -B -o -q install -DskipTests
DELTAS=$(seq -s, 1 "$N")
cat > "$W/bench-$N.conf" <<CONF
name = bench-$N
grid { eval.pfid.delta = [$DELTAS] }
CONF
ARGS=(--conf conf/demo.conf --sweep "$W/bench-$N.conf" sweep.out="$W/sweeps" sweep.store="$W/store"
  data.imagefolder="$W/fashion-mnist"
  tokenizer.stage.train-images=512 tokenizer.stage.val-images=64 tokenizer.trainer.epochs=1 tokenizer.loss.gan-start-epoch=-1
  tokenize.train-images=512 generator.trainer.max-steps=10 generator.trainer.warmup=2 generator.stage.val-rows=64
  eval.feature-net.epochs=1 eval.feature-net.train-limit=2000 eval.feature-net.test-limit=500
  eval.feature-net.min-test-accuracy=0.5 eval.val-images=200 eval.num-samples=100 eval.is-split-size=50
  posttrain.pairs=128 posttrain.batch-size=8 posttrain.trainer.epochs=1 posttrain.stage.val-images=16
  eval.pr-block=100 eval.pr-max-samples=100 eval.pfid.alphas=[0.5])
echo "first run (computes the store) ..."
ROBUSTOK_NO_BUILD=1 bin/robustok sweep "${ARGS[@]}" > "$W/first-$N.log" 2>&1 || { tail -20 "$W/first-$N.log"; exit 1; }
TIMES=()
for r in $(seq 1 "$REPS"); do
  t0=$(date +%s.%N)
  ROBUSTOK_NO_BUILD=1 bin/robustok sweep "${ARGS[@]}" > "$W/rerun-$N-$r.log" 2>&1
  t1=$(date +%s.%N)
  TIMES+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
  echo "rerun $r: ${TIMES[-1]} s"
done
MED=$(printf '%s\n' "${TIMES[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "N=$N variants: cached rerun median $MED s (target $((20 + N)) s); load: $(uptime)"
