import type { Queryable } from '../db/pool.ts';
import { START, formatPosition, parsePosition, type GlobalPosition } from '../eventstore/global-position.ts';

interface CheckpointRow {
  commit_position: string;
  sequence_position: string;
}

const toPosition = (row: CheckpointRow): GlobalPosition => ({
  commit: BigInt(row.commit_position),
  sequence: BigInt(row.sequence_position),
});

/** Where the projection has got to; the start for a projection that never ran. */
export async function readCheckpoint(db: Queryable, projection: string): Promise<GlobalPosition> {
  const { rows } = await db.query<CheckpointRow>({
    name: 'checkpoint-read',
    text: 'SELECT commit_position, sequence_position FROM projection_checkpoints WHERE projection = $1',
    values: [projection],
  });
  return rows[0] ? toPosition(rows[0]) : START;
}

/**
 * Takes the projection's lock for the rest of the transaction, so one instance at
 * a time advances it, and reads the checkpoint. `wait: false` gives up at once
 * (undefined) when another instance holds it.
 *
 * An advisory lock rather than SELECT ... FOR UPDATE: locking a row would give the
 * transaction an id before it reads events, and the event store hides events of
 * transactions newer than the oldest one running, so the batch would hide the
 * newest events from itself and every other reader until it commits.
 */
export async function lockCheckpoint(
  tx: Queryable,
  projection: string,
  { wait }: { wait: boolean },
): Promise<GlobalPosition | undefined> {
  const lockKey = `subledger.projection:${projection}`;
  if (wait) {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
  } else {
    const { rows } = await tx.query<{ locked: boolean }>({
      name: 'checkpoint-try-lock',
      text: 'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked',
      values: [lockKey],
    });
    if (!rows[0]?.locked) return undefined;
  }
  return readCheckpoint(tx, projection);
}

/** Where projections announce their new checkpoints: `<projection> <commit.sequence>`. */
export const CHECKPOINTS_CHANNEL = 'subledger_checkpoints';

/**
 * Moves the checkpoint, and announces it to every instance when the transaction commits:
 * instances that do not run the projection learn from it that their writes are readable.
 */
export async function saveCheckpoint(tx: Queryable, projection: string, position: GlobalPosition): Promise<void> {
  await tx.query({
    name: 'checkpoint-save',
    text: `WITH saved AS (
       INSERT INTO projection_checkpoints (projection, commit_position, sequence_position) VALUES ($1, $2, $3)
       ON CONFLICT (projection) DO UPDATE
       SET commit_position = excluded.commit_position, sequence_position = excluded.sequence_position,
           updated_at = now()
     )
     SELECT pg_notify($4, $1 || ' ' || $5)`,
    values: [
      projection,
      position.commit.toString(),
      position.sequence.toString(),
      CHECKPOINTS_CHANNEL,
      formatPosition(position),
    ],
  });
}

/** What `saveCheckpoint` announced, or undefined for anything else. */
export function parseAnnouncement(payload: string): { projection: string; position: GlobalPosition } | undefined {
  const [projection, at, ...rest] = payload.split(' ');
  const position = at === undefined ? undefined : parsePosition(at);
  return projection && position && rest.length === 0 ? { projection, position } : undefined;
}
