#!/usr/bin/env bash
# Spark GPU discovery script: prints the GPUs of this host as Spark's resource JSON,
#   {"name": "gpu", "addresses": ["0", "1", ...]}
# Used as spark.executor.resource.gpu.discoveryScript (deploy/submit.sh, the Airflow DAG, the Kubernetes manifests)
# or spark.worker.resource.gpu.discoveryScript on standalone workers. Needs nvidia-smi on PATH; prints an empty
# address list (and says why on stderr) when there is none, so that Spark reports "no GPU" rather than a parse error.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-discovery: nvidia-smi not found: no GPU on $(hostname)" >&2
  echo '{"name": "gpu", "addresses": []}'
  exit 0
fi
addresses=""
while IFS= read -r index; do
  index="${index//[[:space:]]/}"
  [ -n "$index" ] || continue
  addresses="${addresses:+$addresses, }\"$index\""
done < <(nvidia-smi --query-gpu=index --format=csv,noheader)
echo "{\"name\": \"gpu\", \"addresses\": [$addresses]}"
