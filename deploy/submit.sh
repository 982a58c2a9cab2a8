#!/usr/bin/env bash
# Submit one stage (or the whole pipeline) to a Spark cluster with the shaded jar.
#   deploy/submit.sh <stage> --conf conf/imagenet256.conf [--force] [key=value ...]
# Environment:
#   SPARK_MASTER      spark://host:7077 | yarn | k8s://https://host:6443   (required)
#   DEPLOY_MODE       client | cluster (default client)
#   EXECUTORS         number of executors = GPUs = parameter-averaging workers (default 8)
#   EXECUTOR_CORES    cores per executor (default 8); EXECUTOR_MEMORY (default 48g); GPU=1 to ask for one GPU each
#   GPU_DISCOVERY     the executors' GPU discovery script (default deploy/gpu-discovery.sh of this checkout: the
#                     same path must exist on every executor host, e.g. /opt/robustok/deploy in the image)
#   JAR               default spark-jobs/target/robustok-cluster.jar (build: mvn -B -Pcluster,cuda package -DskipTests)
#   EXTRA             more spark-submit arguments
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { sed -n 2,14p "$0"; exit 2; }
: "${SPARK_MASTER:?set SPARK_MASTER (spark://host:7077, yarn or k8s://...)}"
JAR="${JAR:-$ROOT/spark-jobs/target/robustok-cluster.jar}"
[ -f "$JAR" ] || { echo "submit: $JAR missing: build it with mvn -B -Pcluster,cuda package -DskipTests" >&2; exit 1; }
OPENS="--add-modules=jdk.incubator.vector --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false -Dio.netty.tryReflectionSetAccessible=true"
ND4J="-Dorg.bytedeco.javacpp.maxbytes=${ND4J_MAXBYTES:-40g} -Dorg.bytedeco.javacpp.maxphysicalbytes=${ND4J_MAXPHYSICALBYTES:-0}"
# CPU jars: ND4J_EXTENSION=-onednn runs the oneDNN build of libnd4j on executors (deploy/README.md)
ND4J="$ND4J${ND4J_EXTENSION:+ -Dorg.bytedeco.javacpp.platform.extension=$ND4J_EXTENSION}"
GPU_ARGS=()
if [ "${GPU:-1}" = 1 ]; then
  # one task per GPU: the parameter-averaging worker picks its device from the task's resource addresses
  GPU_ARGS=(--conf spark.executor.resource.gpu.amount=1 --conf spark.task.resource.gpu.amount=1
            --conf "spark.task.cpus=${EXECUTOR_CORES:-8}"
            --conf "spark.executor.resource.gpu.discoveryScript=${GPU_DISCOVERY:-$ROOT/deploy/gpu-discovery.sh}")
fi
stage="$1"; shift
# shellcheck disable=SC2086
exec spark-submit --master "$SPARK_MASTER" --deploy-mode "${DEPLOY_MODE:-client}" \
  --class io.robustok.cli.Main \
  --num-executors "${EXECUTORS:-8}" --executor-cores "${EXECUTOR_CORES:-8}" --executor-memory "${EXECUTOR_MEMORY:-48g}" \
  --conf "spark.driver.extraJavaOptions=$OPENS $ND4J" \
  --conf "spark.executor.extraJavaOptions=$OPENS $ND4J" \
  --conf "spark.executorEnv.OMP_NUM_THREADS=${EXECUTOR_CORES:-8}" \
  --conf spark.serializer=org.apache.spark.serializer.KryoSerializer \
  --conf spark.kryo.registrator=io.robustok.spark.KryoRegistration \
  --conf spark.kryoserializer.buffer.max=1g \
  "${GPU_ARGS[@]}" ${EXTRA:-} \
  --files "$ROOT/conf/defaults.conf,$ROOT/conf/imagenet256.conf" \
  "$JAR" "$stage" "spark.workers=${EXECUTORS:-8}" "$@"
