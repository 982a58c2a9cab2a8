package io.robustok.data;

import com.typesafe.config.Config;

import java.io.Serializable;
import java.util.List;

/**
 * The {@code prep} section of the config (with the {@code data} keys it needs); every field is documented
 * in conf/defaults.conf.
 *
 * @param input                root of the ImageFolder input (train/&lt;wnid&gt;/..., val/...)
 * @param output               output directory (Parquet shards, class index, manifest, rejects)
 * @param splits               split folders; the first defines the classes and must exist, the others are optional
 * @param valLabels            label file for a flat val/ folder ("" = val/ must have class folders)
 * @param valLabelWnids        file listing the wnid of each numeric label of valLabels, in label order
 *                             ("" = numeric labels index the sorted wnids)
 * @param valLabelBase         the first numeric label of valLabels (0, or 1 for the official ground truth)
 * @param classNames           optional "wnid name" file for human-readable names in classes.json ("" = none)
 * @param resizeShortSide      stored images whose shorter side is longer are downscaled to this (the largest size
 *                             the training augmentation asks for)
 * @param keepOriginalShortSide plain 8-bit RGB images up to this shorter side keep their original bytes
 * @param jpegQuality          quality of re-encoded JPEGs
 * @param maxPixels            larger images are rejected unread (decompression bombs, corrupt headers)
 * @param maxSide              so are images with a longer side than this
 * @param shardBytes           target shard size (estimated from input sizes)
 * @param minShards            at least this many shards per split (0 = Spark's default parallelism)
 * @param rowGroupBytes        Parquet row-group size
 * @param compression          Parquet codec (uncompressed: image payloads are already compressed)
 */
public record PrepConfig(String input, String output, List<String> splits, String valLabels, String valLabelWnids,
                         int valLabelBase, String classNames, int resizeShortSide, int keepOriginalShortSide,
                         int jpegQuality, long maxPixels, int maxSide, long shardBytes, int minShards,
                         long rowGroupBytes, String compression) implements Serializable {

    public PrepConfig {
        if (splits.isEmpty()) throw new IllegalArgumentException("prep.splits is empty: list at least \"train\"");
        splits = List.copyOf(splits);
        if (resizeShortSide < 1) throw new IllegalArgumentException("prep.resize-short-side must be positive");
        if (keepOriginalShortSide < resizeShortSide)
            throw new IllegalArgumentException("prep.keep-original-short-side (" + keepOriginalShortSide
                    + ") must be at least the resize target " + resizeShortSide);
        if (jpegQuality < 1 || jpegQuality > 100) throw new IllegalArgumentException("prep.jpeg-quality must be 1..100");
    }

    /** From the resolved root config: reads {@code prep.*} and {@code data.image-size}, {@code data.max-scale}. */
    public static PrepConfig from(Config c) {
        Config p = c.getConfig("prep");
        int size = c.getInt("data.image-size");
        double maxScale = c.getDouble("data.max-scale");
        int resize = p.getInt("resize-short-side");
        if (resize == 0) resize = (int) Math.ceil(maxScale * size);
        double keepRatio = p.getDouble("keep-original-ratio");
        int keep = (int) Math.ceil(keepRatio * resize);
        return new PrepConfig(p.getString("input"), p.getString("output"), p.getStringList("splits"),
                p.getString("val-labels"), p.getString("val-label-wnids"), p.getInt("val-label-base"),
                p.getString("class-names"), resize, keep, p.getInt("jpeg-quality"), p.getLong("max-pixels"),
                p.getInt("max-side"), p.getBytes("shard-bytes"), p.getInt("min-shards"),
                p.getBytes("row-group-bytes"), p.getString("compression"));
    }
}
