#!/usr/bin/env bash
# Rewrites deploy/airflow/robustok_dag.py and deploy/kubernetes/*.yaml from the CLI's stage list
# (io.robustok.cli.Stages: names, order, Stage.after() dependencies). Run after adding a stage or changing its inputs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/bin/robustok" --help >/dev/null   # builds the jars when the sources are newer
exec java -cp "$ROOT/spark-jobs/target/robustok.jar:$ROOT/spark-jobs/target/lib/*" io.robustok.cli.DeployManifests "$ROOT"
