import type { Pool } from '../db/pool.ts';
import { appliedSchemaVersion } from '../db/migrate.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { formatPosition } from '../eventstore/global-position.ts';
import type { ProjectionRunner } from '../projections/runner.ts';

export interface Readiness {
  readonly ready: boolean;
  readonly database: {
    readonly reachable: boolean;
    readonly schemaVersion?: number;
    readonly expectedSchemaVersion: number;
    readonly error?: string;
  };
  readonly projections: readonly {
    readonly name: string;
    readonly running: boolean;
    readonly checkpoint: string;
    /** Age of the oldest event not yet applied; 0 when caught up. */
    readonly lagSeconds?: number;
    readonly failing?: { readonly since: string; readonly error: string; readonly attempts: number };
  }[];
}

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
    database = { reachable: true, schemaVersion: await appliedSchemaVersion(pool), expectedSchemaVersion };
  } catch (error) {
    database = { reachable: false, expectedSchemaVersion, error: (error as Error).message };
  }
  const projections = await Promise.all(
    runners.map(async (runner) => {
      const status = runner.status();
      let lagSeconds: number | undefined;
      if (database.reachable) {
        const [next] = await eventStore.readAll({ after: status.checkpoint, limit: 1 }).catch(() => []);
        lagSeconds = next ? Math.max(0, (Date.now() - next.recordedAt.getTime()) / 1000) : 0;
      }
      return {
        name: status.projection,
        running: status.running,
        checkpoint: formatPosition(status.checkpoint),
        ...(lagSeconds !== undefined && { lagSeconds }),
        ...(status.failing && { failing: { ...status.failing, since: status.failing.since.toISOString() } }),
      };
    }),
  );
  const ready =
    database.reachable &&
    database.schemaVersion === expectedSchemaVersion &&
    projections.every((p) => p.running && !p.failing);
  return { ready, database, projections };
}
