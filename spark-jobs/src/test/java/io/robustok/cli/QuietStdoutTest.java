package io.robustok.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class QuietStdoutTest {
    @Test
    void dropsOnlySameDiffGradientNoise() {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            QuietStdout.install();
            QuietStdout.install();
            System.out.println("Added differentiated op matmul_3");
            System.out.println("step 5 loss 1.0");
            System.out.println("note: Added differentiated op (not at the start)");
        } finally {
            System.setOut(saved);
        }
        assertEquals("step 5 loss 1.0\nnote: Added differentiated op (not at the start)\n",
                buf.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n"));
    }
}
