/**
 * `npm run bench`: event-store append throughput and projection catch-up, for
 * Subledger and, as the baseline, Emmett's PostgreSQL event store, on one
 * embedded PostgreSQL with its default durable settings, in one run.
 *
 * Runs are interleaved (Subledger, Emmett, Subledger, ...) so that the shared
 * disk's noise falls on both alike; the table shows medians, every run, and the
 * ratio of medians. A last row measures the floor: one-row INSERT commits by one
 * writer, what a single writer's fsync allows at most.
 *   RUNS=3  BASELINE=0 (skip Emmett)  BENCH_DATABASE_URL=... (another server)
 */
import { emmettSuite } from './emmett-suite.ts';
import { subledgerSuite } from './subledger-suite.ts';
import { benchPostgres, commitFloor, machine, median } from './support.ts';
import { WORKLOAD, type EngineSuite } from './workload.ts';

interface Result {
  engine: string;
  measurement: string;
  runs: number[];
  median: number;
}

const postgres = await benchPostgres();
try {
  const subledger = subledgerSuite(postgres);
  const engines: EngineSuite[] = [subledger, ...(process.env.BASELINE === '0' ? [] : [emmettSuite(postgres)])];
  const results: Result[] = [];
  const measure = async (measurement: string, contenders: [string, () => Promise<number>][]) => {
    const runs = new Map(contenders.map(([engine]) => [engine, [] as number[]]));
    for (let run = 0; run < WORKLOAD.runs; run++) {
      for (const [engine, work] of contenders) runs.get(engine)!.push(await work());
    }
    for (const [engine, values] of runs) {
      const result = { engine, measurement, runs: values, median: median(values) };
      results.push(result);
      console.error(
        `${engine.padEnd(14)} ${measurement.padEnd(42)} ${fmt(result.median)}  (${values.map(fmt).join(', ')})`,
      );
    }
  };

  await measure(
    'appends/s, 1 writer',
    engines.map((e) => [e.name, () => e.appends(1, WORKLOAD.appendsOneWriter)]),
  );
  await measure(
    `appends/s, ${WORKLOAD.manyWriters} writers`,
    engines.map((e) => [e.name, () => e.appends(WORKLOAD.manyWriters, WORKLOAD.appendsManyWriters)]),
  );
  await measure(
    'catch-up events/s, counter projection',
    engines.map((e) => [e.name, () => e.catchUpCounter()]),
  );
  await measure('catch-up events/s, purchases projection', [[subledger.name, () => subledger.catchUpPurchases()]]);
  await measure('floor: 1-row INSERT commits/s, 1 writer', [
    ['PostgreSQL', () => commitFloor(postgres, WORKLOAD.appendsOneWriter)],
  ]);

  const table = results.map((r) => {
    const baseline = results.find(
      (b) => b.measurement === r.measurement && b.engine !== r.engine && r.engine === subledger.name,
    );
    return {
      measurement: r.measurement,
      engine: r.engine,
      median: Math.round(r.median),
      runs: r.runs.map(Math.round).join(', '),
      'vs Emmett': baseline ? `${(r.median / baseline.median).toFixed(2)}x` : '',
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
