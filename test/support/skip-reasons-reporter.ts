import type { Reporter, TestModule } from 'vitest/node';

/**
 * Names every skipped test at the end of a run with the reason it was skipped (the note
 * given to `ctx.skip(reason)`): vitest's default reporter only counts them, and a test
 * skipped without saying why must not pass unnoticed.
 */
export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped = testModules.flatMap((module) =>
      [...module.children.allTests()]
        .map((test) => ({ test, result: test.result() }))
        .filter(({ result }) => result.state === 'skipped')
        .map(
          ({ test, result }) =>
            `  ${test.fullName}\n    why: ${(result.state === 'skipped' && result.note) || 'NO REASON GIVEN'}`,
        ),
    );
    if (skipped.length === 0) return;
    process.stdout.write(`\nSkipped tests, and why:\n${skipped.join('\n')}\n`);
  }
}
