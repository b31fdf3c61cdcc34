import type { Pool } from '../db/pool.ts';
import { appliedSchemaVersion } from '../db/migrate.ts';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.ts';
import { formatPosition } from '../eventstore/global-position.ts';
import type { ProjectionRunner } from '../projections/runner.ts';
import type { Readiness } from '../api/routes/health.ts';

/** Database reachable, schema current, projections running: what /ready reports. */
export async function checkReadiness(deps: {
  pool: Pool;
  eventStore: EventStore;
  runners: readonly ProjectionRunner[];
  expectedSchemaVersion: number;
}): Promise<Readiness> {
  const { pool, eventStore, runners, expectedSchemaVersion } = deps;
  let database: Readiness['database'];
  try {
    const [schemaVersion, oldestWriteTransactionSeconds] = await Promise.all([
      appliedSchemaVersion(pool),
      oldestWriteTransactionAge(pool),
    ]);
    database = { reachable: true, schemaVersion, expectedSchemaVersion, oldestWriteTransactionSeconds };
  } catch (error) {
    database = { reachable: false, expectedSchemaVersion, error: (error as Error).message };
  }
  const projections = await Promise.all(
    runners.map(async (runner) => {
      const status = runner.status();
      const lagSeconds = database.reachable ? await projectionLagSeconds(eventStore, runner) : undefined;
      return {
        name: status.projection,
        running: status.running,
        checkpoint: formatPosition(status.checkpoint),
        ...(lagSeconds !== undefined && { lagSeconds }),
        ...(status.failing && { failing: { ...status.failing, since: status.failing.since.toISOString() } }),
      };
    }),
  );
  // A newer schema is fine: during a rolling deploy the new version migrates first.
  const ready =
    database.reachable &&
    (database.schemaVersion ?? 0) >= expectedSchemaVersion &&
    projections.every((p) => p.running && !p.failing);
  return { ready, database, projections };
}

/**
 * How far behind a projection is: the age of the oldest event it has not applied yet
 * (0 when it has applied everything); undefined when the event store cannot say.
 */
export async function projectionLagSeconds(
  eventStore: EventStore,
  runner: ProjectionRunner,
): Promise<number | undefined> {
  let next: RecordedEvent | undefined;
  try {
    [next] = await eventStore.readAll({ after: runner.status().checkpoint, limit: 1 });
  } catch {
    return undefined;
  }
  return next ? Math.max(0, (Date.now() - next.recordedAt.getTime()) / 1000) : 0;
}

async function oldestWriteTransactionAge(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ seconds: number | null }>(
    `SELECT extract(epoch FROM now() - min(xact_start))::float8 AS seconds
     FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()`,
  );
  return Math.max(0, rows[0]?.seconds ?? 0);
}
