package io.robustok.e2e;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/** A tiny ImageFolder for end-to-end runs: 10 classes, 8 train and 4 val 28x28 PNGs each, and synset_words.txt. */
final class TinyImageFolder {
    private TinyImageFolder() {
    }

    static void write(Path folder) throws IOException {
        Random rnd = new Random(1);
        StringBuilder words = new StringBuilder();
        for (int c = 0; c < 10; c++) {
            String wnid = String.format("n%08d", c);
            words.append(wnid).append(" class").append(c).append('\n');
            for (String split : List.of("train", "val")) {
                Path d = folder.resolve(split).resolve(wnid);
                Files.createDirectories(d);
                for (int i = 0; i < (split.equals("train") ? 8 : 4); i++) {
                    // class c: a bright bar at a class-specific angle over noise
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
                    double a = Math.PI * c / 10;
                    for (int y = 0; y < 28; y++) {
                        for (int x = 0; x < 28; x++) {
                            double dist = Math.abs((x - 14) * Math.sin(a) - (y - 14) * Math.cos(a));
                            int v = Math.min(255, (dist < 3 ? 200 : 20) + rnd.nextInt(40));
                            img.setRGB(x, y, (v << 16) | (v << 8) | (255 - v));
                        }
                    }
                    ImageIO.write(img, "png", d.resolve(wnid + "_" + i + ".png").toFile());
                }
            }
        }
        Files.writeString(folder.resolve("synset_words.txt"), words.toString());
    }

    /**
     * Overrides that run conf/demo.conf's whole pipeline on this folder in about a minute: tiny models, a few steps,
     * 20 evaluation samples (the end-to-end tests of the pipeline and of sweeps share them).
     */
    static List<String> tinyRun(Path folder) {
        return List.of("--conf", "../../conf/demo.conf", "data.fashion-mnist=\"\"",
                "data.imagefolder=" + folder, "prep.class-names=" + folder.resolve("synset_words.txt"),
                "tokenizer.codebook-size=64", "tokenizer.perturb.delta-max=32", "tokenizer.model.width=32", "tokenizer.model.encoder-depth=1",
                "tokenizer.model.decoder-depth=1", "tokenizer.model.heads=2", "tokenizer.batch-size=8",
                "tokenizer.stage.train-images=0", "tokenizer.stage.val-images=16", "tokenizer.trainer.epochs=1",
                "tokenizer.loss.gan-start-epoch=0.5",
                "generator.model.width=32", "generator.model.depth=1", "generator.model.heads=2", "generator.batch-size=8",
                "generator.trainer.max-steps=6", "generator.trainer.warmup=2", "generator.stage.val-rows=16",
                "generator.stage.grid-per-class=1",
                "posttrain.pairs=40", "posttrain.batch-size=8", "posttrain.trainer.epochs=1", "posttrain.stage.val-images=16",
                "eval.feature-net.epochs=1", "eval.feature-net.train-limit=2000", "eval.feature-net.test-limit=500",
                "eval.feature-net.min-test-accuracy=0.5", "eval.num-samples=20", "eval.is-split-size=10",
                "eval.batch-size=10", "eval.pr-k=2", "eval.pr-block=20", "eval.pr-max-samples=20",
                "eval.pfid.alphas=[0.25,1.0]");
    }
}
