package io.robustok.jobs.prep;

import io.robustok.cli.Main;
import io.robustok.cli.Stage;
import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.data.FashionMnistImageFolder;
import io.robustok.data.PrepInputException;
import java.util.List;

/**
 * {@code robustok demo-data}: Fashion-MNIST (Debian package dataset-fashion-mnist, data.fashion-mnist) written
 * as an ImageNet-style folder tree at data.imagefolder. Part of the pipeline only for configs that name a
 * Fashion-MNIST source (data.fashion-mnist = "" turns it off, as in conf/imagenet256.conf).
 */
public final class DemoDataStage implements Stage {

    public static void main(String[] args) {
        Main.runStage("demo-data", args);
    }

    @Override
    public String name() {
        return "demo-data";
    }

    @Override
    public String summary() {
        return "Fashion-MNIST (Debian package) written as ImageFolder train/val, 10 classes (data.imagefolder)";
    }

    @Override
    public List<String> outputs(com.typesafe.config.Config c) {
        // not a demo config: nothing to write
        return c.getString("data.fashion-mnist").isBlank() ? List.of() : List.of(c.getString("data.imagefolder"));
    }

    @Override
    public List<String> configPaths() {
        return List.of("data.fashion-mnist", "data.imagefolder", "data.fashion-mnist-pad");
    }

    @Override
    public void run(StageContext ctx) {
        String source = ctx.settings().config().getString("data.fashion-mnist");
        String out = ctx.settings().config().getString("data.imagefolder");
        if (source.isBlank()) {
            System.out.println("demo-data: data.fashion-mnist is empty (not a demo config), nothing to do");
            return;
        }
        long t0 = System.nanoTime();
        long n;
        try {
            n = FashionMnistImageFolder.write(source, out, ctx.settings(), ctx.force());
        } catch (PrepInputException e) {
            throw new UserError(e.getMessage(), e);
        }
        if (n == 0) System.out.println("demo-data: " + out + " is complete, skipped (--force redoes it)");
        else System.out.printf("demo-data: wrote %d images to %s in %.1f s%n", n, out, (System.nanoTime() - t0) / 1e9);
    }
}
