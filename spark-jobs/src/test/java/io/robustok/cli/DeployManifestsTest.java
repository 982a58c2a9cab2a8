package io.robustok.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/airflow and deploy/kubernetes cannot drift from the stage list: they are what the generator makes from
 * it today, and read back independently (tasks and edges of the DAG, one manifest per stage with its inputs),
 * they name every pipeline stage once, with exactly the inputs the stage declares.
 */
class DeployManifestsTest {
    static final Path ROOT = Path.of("..");
    static final String REGENERATE = ": regenerate with deploy/generate.sh (the stage list changed)";

    @Test
    void checkedInFilesAreWhatTheStageListGenerates() throws Exception {
        Map<String, String> expected = DeployManifests.files();
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Path f = ROOT.resolve(e.getKey());
            assertTrue(Files.isRegularFile(f), e.getKey() + " missing" + REGENERATE);
            assertEquals(e.getValue(), Files.readString(f), e.getKey() + " differs" + REGENERATE);
        }
        Set<String> onDisk = new TreeSet<>();
        try (Stream<Path> s = Files.list(ROOT.resolve("deploy/kubernetes"))) {
            s.filter(p -> p.toString().endsWith(".yaml")).forEach(p -> onDisk.add("deploy/kubernetes/" + p.getFileName()));
        }
        Set<String> generated = new TreeSet<>(expected.keySet());
        generated.removeIf(k -> !k.startsWith("deploy/kubernetes/"));
        assertEquals(generated, onDisk, "manifests of stages that no longer exist" + REGENERATE);
    }

    @Test
    void gpuDiscoveryScriptPrintsSparksResourceJson(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // a host with two GPUs: nvidia-smi as the script calls it
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path smi = bin.resolve("nvidia-smi");
        Files.writeString(smi, "#!/bin/sh\n[ \"$1 $2\" = \"--query-gpu=index --format=csv,noheader\" ] || exit 9\nprintf '0\\n1\\n'\n");
        assertTrue(smi.toFile().setExecutable(true));
        com.fasterxml.jackson.databind.JsonNode two = discover(bin + ":/usr/bin:/bin");
        assertEquals("gpu", two.path("name").asText());
        assertEquals("[\"0\",\"1\"]", two.path("addresses").toString());
        // no nvidia-smi: valid JSON with no address
        assertEquals("[]", discover("/usr/bin:/bin").path("addresses").toString());
    }

    static com.fasterxml.jackson.databind.JsonNode discover(String path) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("deploy/gpu-discovery.sh").toString());
        pb.environment().put("PATH", path);
        Process p = pb.redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor());
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(out);
    }

    @Test
    void dagAndManifestsCarryEveryStageWithItsDeclaredInputs() throws Exception {
        List<String> pipeline = new ArrayList<>();
        Map<String, Set<String>> declared = new LinkedHashMap<>();
        for (Stage s : Stages.all()) {
            if (!s.inPipeline()) continue;
            pipeline.add(s.name());
            declared.put(s.name(), new LinkedHashSet<>(s.after()));
            for (String in : s.after()) {
                assertTrue(pipeline.contains(in) && !in.equals(s.name()),
                        s.name() + " waits for '" + in + "', which is not an earlier pipeline stage");
            }
        }

        // the DAG file, read as text: tasks `x = stage("name")`, edges `a >> b`
        String dag = Files.readString(ROOT.resolve("deploy/airflow/robustok_dag.py"));
        Map<String, String> tasks = new LinkedHashMap<>();
        Matcher t = Pattern.compile("(?m)^    (\\w+) = stage\\(\"([a-z-]+)\"\\)$").matcher(dag);
        while (t.find()) tasks.put(t.group(1), t.group(2));
        List<String> expectedTasks = new ArrayList<>(pipeline);
        expectedTasks.add("report");
        assertEquals(expectedTasks, new ArrayList<>(tasks.values()), "one DAG task per stage, in pipeline order");
        Map<String, Set<String>> edges = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^    (\\w+) >> (\\w+)$").matcher(dag);
        while (m.find()) edges.computeIfAbsent(tasks.get(m.group(2)), k -> new LinkedHashSet<>()).add(tasks.get(m.group(1)));
        for (String s : pipeline) assertEquals(declared.get(s), edges.getOrDefault(s, Set.of()), "DAG edges into " + s);
        assertEquals(new LinkedHashSet<>(pipeline), edges.get("report"), "the report runs after every stage");

        // the manifests: one per stage, its arguments name the stage, its annotation lists the declared inputs
        for (int i = 0; i < expectedTasks.size(); i++) {
            String s = expectedTasks.get(i);
            Path f = ROOT.resolve(String.format("deploy/kubernetes/%02d-%s.yaml", i + 1, s));
            String yaml = Files.readString(f);
            assertTrue(yaml.contains("arguments: [\"" + s + "\", \"--conf\""), f + " runs " + s);
            assertTrue(yaml.contains("nvidia.com/gpu"), f + " asks for a GPU per executor");
            Matcher a = Pattern.compile("robustok.io/after: \"([a-z,-]*)\"").matcher(yaml);
            assertTrue(a.find(), f + " has robustok.io/after");
            Set<String> after = a.group(1).isEmpty() ? Set.of() : new LinkedHashSet<>(List.of(a.group(1).split(",")));
            assertEquals(s.equals("report") ? new LinkedHashSet<>(pipeline) : declared.get(s), after, f + " inputs");
        }
    }
}
