package io.meshgate.demo;

/**
 * One proven (or failed) demo step, printed as one line: {@code PASS 1 <title>: <why>}.
 *
 * @param number 1..6 in the order the demo proves them
 * @param detail what was seen (PASS) or what went wrong (FAIL)
 */
public record StepResult(int number, String title, boolean passed, String detail) {

    public String line() {
        return (passed ? "PASS " : "FAIL ") + number + "  " + title + ": " + detail;
    }
}
