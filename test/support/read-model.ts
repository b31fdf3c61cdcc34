import type { Queryable } from '../../src/db/pool.ts';

export const CORRUPT_UNTIL = '2099-01-01T00:00:00.000Z';

/**
 * Breaks a purchase's read-model row on purpose: its access looks good until 2099,
 * whatever the events say (every period runs until then, no refund is known).
 */
export async function corruptAccessUntil(db: Queryable, streamId: string): Promise<void> {
  const { rows } = await db.query<{ state: { transactions: Record<string, { value: { expiresAt?: string } }> } }>(
    'SELECT state FROM purchases WHERE stream_id = $1',
    [streamId],
  );
  const state = rows[0]!.state;
  for (const { value } of Object.values(state.transactions)) value.expiresAt = CORRUPT_UNTIL;
  await db.query(`UPDATE purchases SET state = $2, access_until = $3 WHERE stream_id = $1`, [
    streamId,
    { ...state, revocations: {} },
    CORRUPT_UNTIL,
  ]);
}
