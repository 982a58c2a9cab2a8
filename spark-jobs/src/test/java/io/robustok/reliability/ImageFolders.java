package io.robustok.reliability;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/** A tiny ImageFolder of synthetic 28x28 PNGs in 10 classes (a bar at a class-specific angle over noise). */
final class ImageFolders {
    private ImageFolders() {
    }

    /** Writes train/ and val/ under {@code folder} and synset_words.txt; returns the words file. */
    static Path write(Path folder, int trainPerClass, int valPerClass) throws IOException {
        Random rnd = new Random(1);
        StringBuilder words = new StringBuilder();
        for (int c = 0; c < 10; c++) {
            String wnid = String.format("n%08d", c);
            words.append(wnid).append(" class").append(c).append('\n');
            for (String split : List.of("train", "val")) {
                Path d = folder.resolve(split).resolve(wnid);
                Files.createDirectories(d);
                for (int i = 0; i < (split.equals("train") ? trainPerClass : valPerClass); i++) {
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
        Path w = folder.resolve("synset_words.txt");
        Files.writeString(w, words.toString());
        return w;
    }
}
