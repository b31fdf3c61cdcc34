/**
 * `npm run bench`: event-store append throughput and projection catch-up, for
 * Subledger and, as the baseline, Emmett's PostgreSQL event store, on one
 * embedded PostgreSQL with its default durable settings, in one run.
 * Prints a table of medians (and every run) and a JSON line.
 *   RUNS=3  BASELINE=0 (skip Emmett)  BENCH_DATABASE_URL=... (another server)
 */
import { emmettSuite } from './emmett-suite.ts';
import { subledgerSuite } from './subledger-suite.ts';
import { benchPostgres, machine, median } from './support.ts';
import { WORKLOAD, type EngineSuite } from './workload.ts';

const postgres = await benchPostgres();
try {
  const subledger = subledgerSuite(postgres);
  const engines: EngineSuite[] = [subledger, ...(process.env.BASELINE === '0' ? [] : [emmettSuite(postgres)])];
  const measure = async (label: string, engine: EngineSuite, work: () => Promise<number>) => {
    const runs: number[] = [];
    for (let run = 0; run < WORKLOAD.runs; run++) runs.push(await work());
    const result = { engine: engine.name, measurement: label, median: median(runs), runs };
    console.error(`${engine.name.padEnd(14)} ${label.padEnd(44)} ${fmt(result.median)}  (${runs.map(fmt).join(', ')})`);
    return result;
  };

  const results: Awaited<ReturnType<typeof measure>>[] = [];
  for (const engine of engines) {
    results.push(await measure('appends/s, 1 writer', engine, () => engine.appends(1, WORKLOAD.appendsOneWriter)));
    results.push(
      await measure(`appends/s, ${WORKLOAD.manyWriters} writers`, engine, () =>
        engine.appends(WORKLOAD.manyWriters, WORKLOAD.appendsManyWriters),
      ),
    );
    results.push(await measure('catch-up events/s, counter projection', engine, () => engine.catchUpCounter()));
  }
  results.push(await measure('catch-up events/s, purchases projection', subledger, () => subledger.catchUpPurchases()));

  const table = results.map((r) => {
    const baseline = results.find(
      (b) => b.engine !== r.engine && b.measurement === r.measurement && r.engine === subledger.name,
    );
    return {
      measurement: r.measurement,
      engine: r.engine,
      median: Math.round(r.median),
      runs: r.runs.map(Math.round).join(', '),
      ...(baseline && { 'vs baseline': `${(r.median / baseline.median).toFixed(2)}x` }),
    };
  });
  console.log(`\nMachine: ${JSON.stringify(machine())}`);
  console.log(`PostgreSQL: ${JSON.stringify(await postgres.settings())}`);
  console.log(`Workload: ${JSON.stringify(WORKLOAD)}\n`);
  console.table(table);
  console.log(JSON.stringify({ machine: machine(), workload: WORKLOAD, results }));
} finally {
  await postgres.stop();
}

function fmt(n: number): string {
  return Math.round(n).toString().padStart(6);
}
