import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Likes } from '../../src/content/likes.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/*
 * Likes are written in groups (group commit). These check what grouping must not
 * change: the order of one user's changes, exact counts, and that one bad change
 * fails alone.
 */
let db: TestDatabase;
let likes: Likes;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(
    `INSERT INTO content_items (content_id, kind, title, summary, body, tags, required_entitlement)
     SELECT 'item-' || n, 'recipe', 'Item', 'Summary', 'Body', '{}', NULL FROM generate_series(1, 3) AS n`,
  );
});
afterAll(() => db.drop());
beforeEach(async () => {
  await db.pool.query('TRUNCATE content_likes, content_like_counts');
  likes = new Likes(db.pool);
});

describe('likes written in groups', () => {
  it("apply one user's changes to one item in the order they were made", async () => {
    const results = await Promise.all([
      likes.like('item-1', 'alice'),
      likes.unlike('item-1', 'alice'),
      likes.like('item-1', 'alice'),
      likes.like('item-1', 'alice'),
    ]);
    expect(results).toEqual([true, true, true, false]);
    expect(await likes.countOf('item-1', 'alice')).toEqual({ count: 1, likedByMe: true });
  });

  it('count exactly under many concurrent changes', async () => {
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    await Promise.all(users.map((u) => likes.like('item-2', u)));
    const changed = await Promise.all([
      ...users.slice(0, 120).map((u) => likes.unlike('item-2', u)),
      // 100-119 like again after unliking above (both change something); 120-199 like already: nothing changes.
      ...users.slice(100, 200).map((u) => likes.like('item-2', u)),
      ...users.slice(0, 10).map((u) => likes.like('item-3', u)),
    ]);
    expect(changed.filter(Boolean)).toHaveLength(120 + 20 + 10);
    expect((await likes.countOf('item-2')).count).toBe(300 - 120 + 20);
    expect((await likes.counts(['item-2', 'item-3'])).get('item-3')).toBe(10);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM content_likes WHERE content_id = 'item-2'`);
    expect(rows[0].n).toBe(200);
  });

  it('fail only the change that cannot be written, not the rest of its group', async () => {
    // The first change goes alone (nothing is being written); the next two queue behind it, as one group.
    const [, missing, fine] = await Promise.allSettled([
      likes.like('item-1', 'carol'),
      likes.like('no-such-item', 'alice'), // violates the foreign key
      likes.like('item-1', 'bob'),
    ]);
    expect(missing.status).toBe('rejected');
    expect(fine).toEqual({ status: 'fulfilled', value: true });
    expect(await likes.countOf('item-1', 'bob')).toEqual({ count: 2, likedByMe: true });
  });
});
