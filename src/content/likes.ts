import type { Pool, Queryable } from '../db/pool.ts';

const SHARDS = 16;
/** The most changes one transaction writes. */
const MAX_BATCH = 500;

interface PendingChange {
  readonly contentId: string;
  readonly appUserId: string;
  readonly delta: 1 | -1;
  resolve(changed: boolean): void;
  reject(error: unknown): void;
}

/**
 * Likes of content items. Liking is idempotent (a user likes an item once); the
 * count moves only when the user's like row does, in the same statement, on one of
 * 16 shards picked from the user, so a popular item's writers rarely wait for each other.
 *
 * Changes are written in groups: while one transaction commits, the changes that
 * arrive meanwhile queue up and go together in the next one (group commit). Each
 * caller still hears only once its change is durable, but a burst of likes costs one
 * disk flush per group instead of one each.
 */
export class Likes {
  private readonly queue: PendingChange[] = [];
  private writing = false;

  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

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
    return new Promise((resolve, reject) => {
      this.queue.push({ contentId, appUserId, delta, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0) await this.writeGroup(this.nextGroup());
    } finally {
      this.writing = false;
    }
  }

  /** The oldest queued changes, at most one per user and item: a like then an unlike go in order, in two groups. */
  private nextGroup(): PendingChange[] {
    const group: PendingChange[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < this.queue.length && group.length < MAX_BATCH;) {
      const change = this.queue[i]!;
      const key = `${change.contentId}\u0000${change.appUserId}`;
      if (keys.has(key)) {
        i++;
        continue;
      }
      keys.add(key);
      group.push(change);
      this.queue.splice(i, 1);
    }
    return group;
  }

  private async writeGroup(group: PendingChange[]): Promise<void> {
    try {
      const changed = await applyChanges(this.pool, group);
      for (const c of group) c.resolve(changed.has(`${c.contentId}\u0000${c.appUserId}`));
    } catch (error) {
      if (group.length === 1) return group[0]!.reject(error);
      // One bad change (an item deleted meanwhile, say) must not fail the others: each on its own.
      for (const c of group) await this.writeGroup([c]);
    }
  }
}

/**
 * One statement, so one transaction: like rows inserted or deleted, and the shards'
 * counts moved by exactly the rows that changed. Rows are written in key order so
 * that instances writing groups at the same time take their locks in the same order.
 */
async function applyChanges(db: Queryable, group: readonly PendingChange[]): Promise<Set<string>> {
  const { rows } = await db.query<{ content_id: string; app_user_id: string }>(
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS i (content_id, app_user_id, delta)
     ),
     liked AS (
       INSERT INTO content_likes (content_id, app_user_id)
       SELECT content_id, app_user_id FROM input WHERE delta = 1 ORDER BY content_id, app_user_id
       ON CONFLICT DO NOTHING
       RETURNING content_id, app_user_id, 1 AS delta
     ),
     unliked AS (
       DELETE FROM content_likes l USING input
       WHERE input.delta = -1 AND l.content_id = input.content_id AND l.app_user_id = input.app_user_id
       RETURNING l.content_id, l.app_user_id, -1 AS delta
     ),
     changed AS (SELECT * FROM liked UNION ALL SELECT * FROM unliked),
     counted AS (
       INSERT INTO content_like_counts (content_id, shard, likes)
       SELECT content_id, abs(hashtext(app_user_id)) % ${SHARDS}, sum(delta) FROM changed
       GROUP BY 1, 2 ORDER BY 1, 2
       ON CONFLICT (content_id, shard) DO UPDATE SET likes = content_like_counts.likes + excluded.likes
     )
     SELECT content_id, app_user_id FROM changed`,
    [group.map((c) => c.contentId), group.map((c) => c.appUserId), group.map((c) => c.delta)],
  );
  return new Set(rows.map((r) => `${r.content_id}\u0000${r.app_user_id}`));
}
