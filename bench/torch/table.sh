#!/usr/bin/env bash
# The per-core table in one run: the demo tokenizer and generator steps at 1 thread, the paper-scale tokenizer step
# and Inception-v3 feature extraction at 2 threads, each against its PyTorch twin through bench/torch/compare.sh,
# one markdown row each with the load average at the end of the row. Raw compare.sh output goes to
# ${LOG:-bench/torch/table.log}. Env as compare.sh: OURS_CLASSES (an older build's classes first on the classpath, for
# a "before" run), ND4J_EXTENSION, JAVA_GC. Usage (from the repository root, machine otherwise idle):
#   bench/torch/table.sh                     # about 10 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/../.."
log=${LOG:-bench/torch/table.log}
: > "$log"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC'); revision $(git rev-parse --short HEAD)${OURS_CLASSES:+, ours from $OURS_CLASSES}"
echo
echo "| work | this project | PyTorch | ratio | load |"
echo "|---|---|---|---|---|"
row() {
  local what=$1 threads=$2 steps=$3 label=$4 out r
  out=$(STEPS=$steps bench/torch/compare.sh "$what" "$threads" 2>&1) || { echo "$out" >> "$log"; echo "| $label | failed (see $log) | | | |"; return; }
  echo "$out" >> "$log"
  r=$(grep '^RESULT' <<<"$out" | tail -1)
  local ours torch unit ratio load
  ours=$(sed -E 's/.* ours=([0-9.]+).*/\1/' <<<"$r")
  torch=$(sed -nE 's/.* torch=([0-9.]+) ([a-z/]+) .*/\1/p' <<<"$r")
  unit=$(sed -E 's/.* ([a-z]+\/s) .*/\1/' <<<"$r")
  ratio=$(sed -nE 's/.* ratio=([0-9.]+x).*/\1/p' <<<"$r")
  load=$(sed -E 's/.* load=([0-9.]+).*/\1/' <<<"$r")
  echo "| $label | $ours $unit | ${torch:-n/a} | ${ratio:-n/a} | $load |"
}
row tokenizer 1 100 "demo tokenizer step (patch 8, batch 32), 1 thread, 100 steps"
row generator 1 60 "demo generator step (T 16, batch 64), 1 thread, 60 steps"
row paper 2 4 "paper-scale tokenizer step (ViT-B, 256 px, batch 1), 2 threads, 4 steps"
row inception 2 3 "Inception-v3 pool_3 (batch 10 at 299), 2 threads, 3 batches"
