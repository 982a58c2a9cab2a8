package io.robustok.eval;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The demo-scale feature network (SPEC section 9: Inception cannot be had offline, so FID at demo scale uses a
 * classifier trained on the demo data and every metric names it). A small CNN on 32x32 RGB in [-1, 1]:
 * three 3x3 conv + 2x2 max-pool stages (16, 32, 64 channels), a 128-wide dense layer whose activations are
 * the features (the role of Inception's pool_3), and a 10-way linear layer whose outputs are the logits
 * (Inception Score). Trained on Fashion-MNIST's train split by io.robustok.jobs.eval.FeatureNetTraining
 * through DL4J's Spark parameter averaging; cached as a model zip whose SHA-256 is its checksum.
 */
public final class DemoFeatureNet implements FeatureExtractor {
    public static final String NAME = "demo-cnn-fmnist/dense128";
    public static final String FEATURES = "features";
    public static final String LOGITS = "logits";
    public static final int SIZE = 32;

    private final ComputationGraph graph;
    private final String checksum;

    private DemoFeatureNet(ComputationGraph graph, String checksum) {
        this.graph = graph;
        this.checksum = checksum;
    }

    /** Model zip inside the cache directory {@code eval.feature-net.dir}. */
    public static Path modelPath(String dir) {
        return Path.of(dir).resolve("feature-net.zip");
    }

    public static ComputationGraphConfiguration configuration(long seed, double learningRate) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(learningRate))
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("image")
                .setInputTypes(InputType.convolutional(SIZE, SIZE, 3))
                .addLayer("conv1", new ConvolutionLayer.Builder(3, 3).nOut(16).activation(Activation.RELU).build(), "image")
                .addLayer("pool1", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "conv1")
                .addLayer("conv2", new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.RELU).build(), "pool1")
                .addLayer("pool2", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "conv2")
                .addLayer("conv3", new ConvolutionLayer.Builder(3, 3).nOut(64).activation(Activation.RELU).build(), "pool2")
                .addLayer("pool3", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), "conv3")
                .addLayer(FEATURES, new DenseLayer.Builder().nOut(128).activation(Activation.RELU).build(), "pool3")
                .addLayer(LOGITS, new DenseLayer.Builder().nOut(10).activation(Activation.IDENTITY).weightInit(WeightInit.XAVIER).build(), FEATURES)
                .addLayer("out", new LossLayer.Builder(LossFunctions.LossFunction.MCXENT).activation(Activation.SOFTMAX).build(), LOGITS)
                .setOutputs("out")
                .build();
    }

    public static DemoFeatureNet load(Path modelZip) throws IOException {
        if (!Files.isRegularFile(modelZip)) {
            throw new IOException("demo feature network " + modelZip + " not found: train it first (bin/robustok train-features)");
        }
        checkEntries(modelZip);
        return new DemoFeatureNet(ModelSerializer.restoreComputationGraph(modelZip.toFile(), false), sha256(modelZip));
    }

    /** What ModelSerializer.writeModel writes: JSON and ND4J's binary array format. */
    static final java.util.Set<String> MODEL_ENTRIES = java.util.Set.of("configuration.json", "coefficients.bin", "updaterState.bin", "noParams.marker");

    /**
     * Refuses a model zip with entries other than {@link #MODEL_ENTRIES}: DL4J's restore reads "preprocessor.bin"
     * (and its normalizer fallback reads "normalizer.bin") with Java deserialization, which a crafted file turns into
     * code execution. Nothing here ever deserializes a file as Java objects.
     */
    static void checkEntries(Path modelZip) throws IOException {
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(modelZip.toFile())) {
            for (java.util.Enumeration<? extends java.util.zip.ZipEntry> en = z.entries(); en.hasMoreElements(); ) {
                String n = en.nextElement().getName();
                if (!MODEL_ENTRIES.contains(n)) {
                    throw new io.robustok.config.InputError("feature network " + modelZip + " has an entry '" + n
                            + "' that is not part of a saved network (expected only " + new java.util.TreeSet<>(MODEL_ENTRIES)
                            + "); refusing to load it: retrain it with 'robustok train-features --force'");
                }
            }
        } catch (java.util.zip.ZipException e) {
            throw new io.robustok.config.InputError("feature network " + modelZip + " is not a zip file (" + e.getMessage()
                    + "): retrain it with 'robustok train-features --force'");
        }
    }

    /** Wraps an in-memory network (tests); its checksum is that of its saved form. */
    public static DemoFeatureNet of(ComputationGraph graph, String checksum) {
        return new DemoFeatureNet(graph, checksum);
    }

    public ComputationGraph graph() {
        return graph;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String checksum() {
        return checksum;
    }

    @Override
    public int featureDim() {
        return 128;
    }

    @Override
    public int classes() {
        return 10;
    }

    @Override
    public Features extract(INDArray images) {
        INDArray x = Images.toFloatNchw(images);
        if (x.size(2) != SIZE || x.size(3) != SIZE) {
            throw new IllegalArgumentException("the demo feature network takes 32x32 images, got " + x.size(2) + "x" + x.size(3));
        }
        Map<String, INDArray> acts = graph.feedForward(x, false);
        INDArray f = acts.get(FEATURES), l = acts.get(LOGITS);
        int n = (int) x.size(0);
        return new Features(n, 128, f.castTo(DataType.FLOAT).dup('c').data().asFloat(), 10,
                l.castTo(DataType.FLOAT).dup('c').data().asFloat());
    }

    /** Accuracy on float NCHW images with integer labels. */
    public double accuracy(FashionMnist.Split split, int batch, int pad) {
        long correct = 0;
        for (int i = 0; i < split.count(); i += batch) {
            int n = Math.min(batch, split.count() - i);
            INDArray x = Nd4j.create(split.toNchw32(i, n, pad), n, 3, SIZE, SIZE);
            float[] logits = extract(x).logits();
            for (int r = 0; r < n; r++) {
                int best = 0;
                for (int c = 1; c < 10; c++) if (logits[r * 10 + c] > logits[r * 10 + best]) best = c;
                if (best == split.labels()[i + r]) correct++;
            }
        }
        return (double) correct / split.count();
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
