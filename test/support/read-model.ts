import type { Queryable } from '../../src/db/pool.ts';

/** Breaks a purchase's read-model row on purpose: its access looks good until 2099, whatever the events say. */
export async function corruptAccessUntil(db: Queryable, streamId: string): Promise<void> {
  await db.query(
    `UPDATE purchases SET status = jsonb_set(status, '{access,until}', '"2099-01-01T00:00:00.000Z"'),
            access_until = '2099-01-01' WHERE stream_id = $1`,
    [streamId],
  );
}
