# Generated from the CLI's stage list (io.robustok.cli.DeployManifests); edit that, then run
# deploy/generate.sh. A test fails when this file and the stage list disagree.
"""robustok as an Airflow DAG: one spark-submit per stage, edges = the stages' inputs.

Every stage skips itself when its output is complete and resumes from its newest checkpoint, so a task
may be retried. Never run two DAG runs on the same run.out at once (max_active_runs=1): two copies of one
stage would write the same checkpoints. See deploy/README.md.
Needs apache-airflow-providers-apache-spark and a Spark connection (conn id below) to the cluster.
"""
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

ROOT = os.environ.get("ROBUSTOK_HOME", "/opt/robustok")
CONF = os.environ.get("ROBUSTOK_CONF", ROOT + "/conf/imagenet256.conf")
JAR = ROOT + "/robustok-cluster.jar"
EXECUTORS = int(os.environ.get("ROBUSTOK_EXECUTORS", "16"))
EXECUTOR_CORES = int(os.environ.get("ROBUSTOK_EXECUTOR_CORES", "8"))
OPENS = "--add-modules=jdk.incubator.vector --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false -Dio.netty.tryReflectionSetAccessible=true"
ND4J = "-Dorg.bytedeco.javacpp.maxbytes=40g -Dorg.bytedeco.javacpp.maxphysicalbytes=0"
# the settings deploy/submit.sh passes, one GPU per executor and one task per executor
SPARK_CONF = {
    "spark.driver.extraJavaOptions": OPENS + " " + ND4J,
    "spark.executor.extraJavaOptions": OPENS + " " + ND4J,
    "spark.executorEnv.OMP_NUM_THREADS": str(EXECUTOR_CORES),
    "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
    "spark.kryo.registrator": "io.robustok.spark.KryoRegistration",
    "spark.kryoserializer.buffer.max": "1g",
    "spark.executor.resource.gpu.amount": "1",
    "spark.task.resource.gpu.amount": "1",
    "spark.task.cpus": str(EXECUTOR_CORES),
    "spark.executor.resource.gpu.discoveryScript": ROOT + "/deploy/gpu-discovery.sh",
}


def stage(name):
    return SparkSubmitOperator(
        task_id=name,
        conn_id=os.environ.get("ROBUSTOK_SPARK_CONN", "spark_default"),
        application=JAR,
        java_class="io.robustok.cli.Main",
        application_args=[name, "--conf", CONF, "spark.workers=%d" % EXECUTORS],
        conf=SPARK_CONF,
        files=ROOT + "/conf/defaults.conf," + CONF,
        num_executors=EXECUTORS,
        executor_cores=EXECUTOR_CORES,
        executor_memory=os.environ.get("ROBUSTOK_EXECUTOR_MEMORY", "64g"),
        driver_memory="16g",
    )


with DAG(
    dag_id="robustok",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
) as dag:
    demo_data = stage("demo-data")
    prep = stage("prep")
    train_tokenizer = stage("train-tokenizer")
    tokenize = stage("tokenize")
    train_generator = stage("train-generator")
    pair_tokens = stage("pair-tokens")
    post_train = stage("post-train")
    train_features = stage("train-features")
    eval = stage("eval")
    report = stage("report")

    demo_data >> prep
    prep >> train_tokenizer
    prep >> tokenize
    train_tokenizer >> tokenize
    train_tokenizer >> train_generator
    tokenize >> train_generator
    prep >> pair_tokens
    train_tokenizer >> pair_tokens
    tokenize >> pair_tokens
    train_generator >> pair_tokens
    prep >> post_train
    train_tokenizer >> post_train
    train_generator >> post_train
    pair_tokens >> post_train
    prep >> eval
    train_tokenizer >> eval
    train_generator >> eval
    train_features >> eval
    demo_data >> report
    prep >> report
    train_tokenizer >> report
    tokenize >> report
    train_generator >> report
    pair_tokens >> report
    post_train >> report
    train_features >> report
    eval >> report
