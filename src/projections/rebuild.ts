import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';
import { START } from '../eventstore/global-position.ts';
import { lockCheckpoint, saveCheckpoint } from './checkpoints.ts';
import type { Projection } from './projection.ts';

/**
 * Empties a projection's read model and moves its checkpoint back to the first
 * event, atomically; a runner then rebuilds it from the whole log.
 */
export async function resetProjection(pool: Pool, projection: Projection): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await lockCheckpoint(tx, projection.name, { wait: true });
    await projection.reset(tx);
    await saveCheckpoint(tx, projection.name, START);
  });
}
