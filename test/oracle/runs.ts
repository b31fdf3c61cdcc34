/**
 * How many generated lifecycles each oracle suite runs: a few thousand in `npm test`,
 * and as many as `LIFECYCLE_RUNS` says in `npm run verify:lifecycles`.
 */
export function lifecycleRuns(defaultRuns = 2_000): number {
  const asked = Number(process.env.LIFECYCLE_RUNS);
  return Number.isInteger(asked) && asked > 0 ? asked : defaultRuns;
}

/** Room for the runs on a slow machine, and for fast-check to shrink a failure to its smallest story. */
export function lifecycleTimeout(runs = lifecycleRuns()): number {
  return 60_000 + runs * 20;
}
