import type { Queryable } from '../db/pool.ts';
import { START, type GlobalPosition } from '../eventstore/global-position.ts';

interface CheckpointRow {
  commit_position: string;
  sequence_position: string;
}

const toPosition = (row: CheckpointRow): GlobalPosition => ({
  commit: BigInt(row.commit_position),
  sequence: BigInt(row.sequence_position),
});

export async function ensureCheckpoint(db: Queryable, projection: string): Promise<void> {
  await db.query('INSERT INTO projection_checkpoints (projection) VALUES ($1) ON CONFLICT DO NOTHING', [projection]);
}

export async function readCheckpoint(db: Queryable, projection: string): Promise<GlobalPosition> {
  const { rows } = await db.query<CheckpointRow>(
    'SELECT commit_position, sequence_position FROM projection_checkpoints WHERE projection = $1',
    [projection],
  );
  return rows[0] ? toPosition(rows[0]) : START;
}

/**
 * Locks the projection's checkpoint for the rest of the transaction, so one
 * instance at a time advances it. `wait: false` gives up at once (undefined)
 * when another instance holds it.
 */
export async function lockCheckpoint(
  tx: Queryable,
  projection: string,
  { wait }: { wait: boolean },
): Promise<GlobalPosition | undefined> {
  const { rows } = await tx.query<CheckpointRow>(
    `SELECT commit_position, sequence_position FROM projection_checkpoints
     WHERE projection = $1 FOR UPDATE ${wait ? '' : 'SKIP LOCKED'}`,
    [projection],
  );
  return rows[0] && toPosition(rows[0]);
}

export async function saveCheckpoint(tx: Queryable, projection: string, position: GlobalPosition): Promise<void> {
  await tx.query(
    `UPDATE projection_checkpoints SET commit_position = $2, sequence_position = $3, updated_at = now()
     WHERE projection = $1`,
    [projection, position.commit.toString(), position.sequence.toString()],
  );
}
