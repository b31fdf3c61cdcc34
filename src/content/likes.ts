import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';

const SHARDS = 16;

/**
 * Likes of content items. Liking is idempotent (a user likes an item once); the
 * count moves only when the user's like row does, in the same transaction, on one of
 * 16 shards picked from the user, so a popular item's writers rarely wait for each other.
 */
export class Likes {
  constructor(private readonly pool: Pool) {}

  /** True when this call changed something. */
  like(contentId: string, appUserId: string): Promise<boolean> {
    return this.change(contentId, appUserId, 1);
  }

  unlike(contentId: string, appUserId: string): Promise<boolean> {
    return this.change(contentId, appUserId, -1);
  }

  async countOf(contentId: string, appUserId?: string): Promise<{ count: number; likedByMe: boolean }> {
    const { rows } = await this.pool.query<{ count: string; liked: boolean }>(
      `SELECT (SELECT coalesce(sum(likes), 0) FROM content_like_counts WHERE content_id = $1) AS count,
              EXISTS (SELECT 1 FROM content_likes WHERE content_id = $1 AND app_user_id = $2) AS liked`,
      [contentId, appUserId ?? null],
    );
    return { count: Number(rows[0]!.count), likedByMe: rows[0]!.liked };
  }

  /** Counts of several items at once, for listings. */
  async counts(contentIds: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ content_id: string; count: string }>(
      `SELECT content_id, sum(likes) AS count FROM content_like_counts WHERE content_id = ANY($1::text[])
       GROUP BY content_id`,
      [contentIds],
    );
    return new Map(rows.map((r) => [r.content_id, Number(r.count)]));
  }

  private change(contentId: string, appUserId: string, delta: 1 | -1): Promise<boolean> {
    return withTransaction(this.pool, async (tx) => {
      const { rowCount } =
        delta === 1
          ? await tx.query(
              `INSERT INTO content_likes (content_id, app_user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
              [contentId, appUserId],
            )
          : await tx.query(`DELETE FROM content_likes WHERE content_id = $1 AND app_user_id = $2`, [
              contentId,
              appUserId,
            ]);
      if (rowCount !== 1) return false;
      await tx.query(
        `INSERT INTO content_like_counts (content_id, shard, likes) VALUES ($1, abs(hashtext($2)) % ${SHARDS}, $3)
         ON CONFLICT (content_id, shard) DO UPDATE SET likes = content_like_counts.likes + excluded.likes`,
        [contentId, appUserId, delta],
      );
      return true;
    });
  }
}
