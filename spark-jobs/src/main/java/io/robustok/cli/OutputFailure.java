package io.robustok.cli;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.util.Locale;

/**
 * Turns a failed write a person can fix (disk full, quota, permission, read-only or missing directory) into one line
 * naming the path, instead of a stack trace. Writers here name their path in the message of the exception they
 * throw ("cannot write checkpoint ...", Spark's "Task failed while writing rows to ..."); the reason comes from the
 * innermost I/O error.
 */
final class OutputFailure {
    private OutputFailure() {
    }

    /** One line, or null when {@code t} is not such a failure. */
    static String describe(Throwable t) {
        String reason = null;
        String where = null;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = c.getMessage() == null ? "" : c.getMessage();
            if (where == null) {
                String first = m.lines().findFirst().orElse("");
                if (first.startsWith("cannot ") || first.startsWith("commit of ")) where = first;
                int w = first.indexOf("while writing rows to ");
                if (w >= 0) where = "cannot write " + first.substring(w + "while writing rows to ".length()).replaceAll("\\.$", "");
            }
            String r = reason(c, m);
            if (r != null) reason = r;
        }
        if (reason == null) return null;
        String first = t.getMessage() == null ? t.toString() : t.getMessage().lines().findFirst().orElse(t.toString());
        return (where != null ? where : first) + ": " + reason;
    }

    private static String reason(Throwable c, String m) {
        String lower = m.toLowerCase(Locale.ROOT);
        if (lower.contains("no space left on device")) return "no space left on device (free space or point run.out elsewhere)";
        if (lower.contains("disk quota exceeded")) return "disk quota exceeded (free space or point run.out elsewhere)";
        if (lower.contains("read-only file system")) return "read-only file system (point run.out at a writable directory)";
        if (c instanceof AccessDeniedException || lower.contains("permission denied")) {
            return "permission denied" + (c instanceof FileSystemException f && f.getFile() != null ? " on " + f.getFile() : "")
                    + " (point run.out at a writable directory)";
        }
        if (lower.contains("not a directory") || c instanceof org.apache.hadoop.fs.ParentNotDirectoryException) {
            return "a parent of the path is a file, not a directory (point run.out at a directory)";
        }
        return null;
    }
}
