package io.robustok.sweep;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.ThreadContext;
import org.apache.logging.log4j.core.Filter;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.FileAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.filter.AbstractFilter;
import org.apache.logging.log4j.core.layout.PatternLayout;

/**
 * A variant's own log file while it runs in this JVM: every log line (sequential sweeps), or only the lines of the
 * threads that run this variant (parallel sweeps; lines of Spark's task threads then stay on the console).
 */
final class VariantLog implements AutoCloseable {
    static final String KEY = "robustok.variant";
    private final FileAppender appender;

    private VariantLog(FileAppender appender) {
        this.appender = appender;
    }

    static VariantLog open(String variant, String file, boolean onlyThisVariant) {
        LoggerContext lc = (LoggerContext) LogManager.getContext(false);
        Configuration config = lc.getConfiguration();
        PatternLayout layout = PatternLayout.newBuilder().withPattern("%d{HH:mm:ss} %-5p %c{1}: %m%n")
                .withConfiguration(config).build();
        Filter filter = onlyThisVariant ? new AbstractFilter() {
            @Override
            public Result filter(LogEvent event) {
                return variant.equals(event.getContextData().getValue(KEY)) ? Result.NEUTRAL : Result.DENY;
            }
        } : null;
        FileAppender a = FileAppender.newBuilder().setName("variant-" + variant).withFileName(file).withAppend(true)
                .setLayout(layout).setFilter(filter).setConfiguration(config).build();
        a.start();
        config.getRootLogger().addAppender(a, null, null);
        lc.updateLoggers();
        ThreadContext.put(KEY, variant);
        return new VariantLog(a);
    }

    @Override
    public void close() {
        ThreadContext.remove(KEY);
        LoggerContext lc = (LoggerContext) LogManager.getContext(false);
        lc.getConfiguration().getRootLogger().removeAppender(appender.getName());
        lc.updateLoggers();
        appender.stop();
    }
}
