package io.robustok.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One evaluation: FID, IS, precision, recall (NaN when not computed, written as null), with the feature
 * network that defines them and the sample/reference counts.
 */
public record EvalResult(double fid, double inceptionScore, double precision, double recall, long samples,
                         long referenceCount, String extractor, String reference) {

    /** One JSON line: {@code {"fid":..,"is":..,"precision":..,"recall":..,"samples":..,"feature_extractor":..}}. */
    public String toJsonLine() {
        ObjectNode o = new ObjectMapper().createObjectNode();
        put(o, "fid", fid);
        put(o, "is", inceptionScore);
        put(o, "precision", precision);
        put(o, "recall", recall);
        o.put("samples", samples);
        o.put("reference_count", referenceCount);
        o.put("feature_extractor", extractor);
        o.put("reference", reference);
        return o.toString();
    }

    static void put(ObjectNode o, String k, double v) {
        if (Double.isFinite(v)) o.put(k, v);
        else o.putNull(k);
    }
}
