package io.robustok.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The scheduler files under deploy/, generated from the stage list the CLI knows ({@link Stages}): an Airflow DAG
 * with one SparkSubmitOperator task per stage and the stages' dependencies ({@link Stage#after()}), and one Spark
 * operator SparkApplication per stage for Kubernetes. A test compares the checked-in files with these, so a new
 * stage or a changed dependency cannot be forgotten there; {@code main} rewrites them.
 */
public final class DeployManifests {
    static final String OPENS = io.robustok.spark.SparkRuntime.JAVA17_OPENS;
    static final String HEADER = "Generated from the CLI's stage list (io.robustok.cli.DeployManifests); edit that, then run\n"
            + "deploy/generate.sh. A test fails when this file and the stage list disagree.";

    private DeployManifests() {
    }

    /** The scheduled stages: the pipeline's, in order, then the report. */
    static List<Stage> scheduled() {
        List<Stage> out = new ArrayList<>();
        for (Stage s : Stages.all()) if (s.inPipeline()) out.add(s);
        out.add(Stages.byName().get("report"));
        return out;
    }

    /** The stages a stage waits for; the report waits for every other stage. */
    static List<String> upstream(Stage s, List<Stage> all) {
        if (!s.name().equals("report")) return s.after();
        List<String> names = new ArrayList<>();
        for (Stage o : all) if (o != s) names.add(o.name());
        return names;
    }

    /** Every generated file, by path relative to the project root. */
    public static Map<String, String> files() {
        Map<String, String> files = new LinkedHashMap<>();
        List<Stage> stages = scheduled();
        files.put("deploy/airflow/robustok_dag.py", airflow(stages));
        for (int i = 0; i < stages.size(); i++) {
            Stage s = stages.get(i);
            files.put(String.format("deploy/kubernetes/%02d-%s.yaml", i + 1, s.name()), sparkApplication(s, upstream(s, stages)));
        }
        return files;
    }

    static String airflow(List<Stage> stages) {
        StringBuilder py = new StringBuilder();
        for (String l : HEADER.split("\n")) py.append("# ").append(l).append('\n');
        py.append("""
                \"\"\"robustok as an Airflow DAG: one spark-submit per stage, edges = the stages' inputs.

                Every stage skips itself when its output is complete and resumes from its newest checkpoint, so a task
                may be retried. Never run two DAG runs on the same run.out at once (max_active_runs=1): two copies of one
                stage would write the same checkpoints. See deploy/README.md.
                Needs apache-airflow-providers-apache-spark and a Spark connection (conn id below) to the cluster.
                \"\"\"
                import os
                from datetime import datetime, timedelta

                from airflow import DAG
                from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

                ROOT = os.environ.get("ROBUSTOK_HOME", "/opt/robustok")
                CONF = os.environ.get("ROBUSTOK_CONF", ROOT + "/conf/imagenet256.conf")
                JAR = ROOT + "/robustok-cluster.jar"
                EXECUTORS = int(os.environ.get("ROBUSTOK_EXECUTORS", "16"))
                EXECUTOR_CORES = int(os.environ.get("ROBUSTOK_EXECUTOR_CORES", "8"))
                OPENS = "%s"
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
                        application_args=[name, "--conf", CONF, "spark.workers=%%d" %% EXECUTORS],
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
                """.formatted(OPENS));
        for (Stage s : stages) py.append("    ").append(var(s.name())).append(" = stage(\"").append(s.name()).append("\")\n");
        py.append('\n');
        for (Stage s : stages) {
            for (String up : upstream(s, stages)) {
                py.append("    ").append(var(up)).append(" >> ").append(var(s.name())).append('\n');
            }
        }
        return py.toString();
    }

    static String sparkApplication(Stage s, List<String> after) {
        String n = s.name();
        StringBuilder y = new StringBuilder();
        for (String l : HEADER.split("\n")) y.append("# ").append(l).append('\n');
        y.append("# Stage ").append(n).append(": ").append(s.summary()).append('\n');
        y.append("# Apply after ").append(after.isEmpty() ? "nothing (no input stage)" : String.join(", ", after))
                .append(" completed (robustok.io/after); see deploy/README.md.\n");
        y.append("""
                apiVersion: sparkoperator.k8s.io/v1beta2
                kind: SparkApplication
                metadata:
                  name: robustok-%1$s
                  namespace: robustok
                  labels:
                    app: robustok
                    robustok.io/stage: %1$s
                  annotations:
                    robustok.io/after: "%2$s"
                spec:
                  type: Java
                  mode: cluster
                  image: robustok:latest
                  imagePullPolicy: IfNotPresent
                  mainClass: io.robustok.cli.Main
                  mainApplicationFile: local:///opt/robustok/robustok-cluster.jar
                  arguments: ["%1$s", "--conf", "/opt/robustok/conf/imagenet256.conf", "spark.workers=16"]
                  sparkVersion: "3.5.9"
                  restartPolicy:
                    type: OnFailure
                    onFailureRetries: 2
                    onFailureRetryInterval: 600
                    onSubmissionFailureRetries: 2
                    onSubmissionFailureRetryInterval: 60
                  sparkConf:
                    spark.serializer: org.apache.spark.serializer.KryoSerializer
                    spark.kryo.registrator: io.robustok.spark.KryoRegistration
                    spark.kryoserializer.buffer.max: 1g
                    spark.task.cpus: "8"
                    spark.executor.resource.gpu.amount: "1"
                    spark.task.resource.gpu.amount: "1"
                    spark.executor.resource.gpu.vendor: nvidia.com
                    spark.executor.resource.gpu.discoveryScript: /opt/robustok/deploy/gpu-discovery.sh
                  driver:
                    cores: 4
                    memory: 16g
                    serviceAccount: spark
                    javaOptions: "%3$s -Dorg.bytedeco.javacpp.maxbytes=8g -Dorg.bytedeco.javacpp.maxphysicalbytes=0"
                  executor:
                    instances: 16
                    cores: 8
                    memory: 64g
                    javaOptions: "%3$s -Dorg.bytedeco.javacpp.maxbytes=40g -Dorg.bytedeco.javacpp.maxphysicalbytes=0"
                    env:
                      - name: OMP_NUM_THREADS
                        value: "8"
                    gpu:
                      name: nvidia.com/gpu
                      quantity: 1
                """.formatted(n, String.join(",", after), OPENS));
        return y.toString();
    }

    static String var(String stage) {
        return stage.replace('-', '_');
    }

    /** Rewrites the files under {@code root} (the project directory; default "."). */
    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : ".");
        Map<String, String> files = files();
        Path k8s = root.resolve("deploy/kubernetes");
        if (Files.isDirectory(k8s)) {
            try (var old = Files.list(k8s)) {
                for (Path f : old.toList()) {
                    String rel = "deploy/kubernetes/" + f.getFileName();
                    if (rel.endsWith(".yaml") && !files.containsKey(rel)) {
                        Files.delete(f);
                        System.out.println("removed " + f);
                    }
                }
            }
        }
        for (Map.Entry<String, String> e : files.entrySet()) {
            Path f = root.resolve(e.getKey());
            Files.createDirectories(f.getParent());
            Files.writeString(f, e.getValue());
            System.out.println("wrote " + f);
        }
    }
}
