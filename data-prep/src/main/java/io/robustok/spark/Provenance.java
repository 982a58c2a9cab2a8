package io.robustok.spark;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** Code revision of this build: -Drobustok.revision (the launcher sets it from git), else the build's. */
public final class Provenance {
    private Provenance() {
    }

    public static String revision() {
        String r = System.getProperty("robustok.revision");
        if (r != null && !r.isBlank()) return r;
        try (InputStream in = Provenance.class.getResourceAsStream("/robustok-build.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("revision", "unknown");
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "unknown";
    }
}
