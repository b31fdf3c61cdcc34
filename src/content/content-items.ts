import { readFile } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Queryable } from '../db/pool.ts';
import { Refusal } from '../domain/refusal.ts';

export interface ContentItem {
  readonly id: string;
  readonly kind: string;
  readonly title: string;
  /** Always public. */
  readonly summary: string;
  /** Only for callers whose scope holds `requiredEntitlement`. */
  readonly body: string;
  readonly tags: readonly string[];
  /** null: free content. */
  readonly requiredEntitlement: string | null;
  readonly updatedAt: Date;
}

export const contentSeedSchema = z.array(
  z.strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
    kind: z.string().min(1),
    title: z.string().min(1),
    summary: z.string(),
    body: z.string(),
    tags: z.array(z.string()).default([]),
    requiredEntitlement: z.string().nullable().default(null),
  }),
);

interface Row {
  content_id: string;
  kind: string;
  title: string;
  summary: string;
  body: string;
  tags: string[];
  required_entitlement: string | null;
  updated_at: Date;
}

/**
 * Content items in PostgreSQL, listed by kind in id order (keyset pagination). Reads
 * are remembered for a few seconds: content changes rarely and is read on every screen.
 */
export class ContentItems {
  private readonly cache = new LRUCache<string, { items: ContentItem[] }>({ max: 20_000, ttl: 5_000 });

  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  async list(options: { kind?: string; after?: string; limit: number }): Promise<ContentItem[]> {
    return this.remembered(`list:${options.kind ?? ''}:${options.after ?? ''}:${options.limit}`, () =>
      this.read(options),
    );
  }

  async get(id: string): Promise<ContentItem | undefined> {
    return (
      await this.remembered(`item:${id}`, async () => {
        const { rows } = await this.db.query<Row>(`SELECT * FROM content_items WHERE content_id = $1`, [id]);
        return rows.map(itemOf);
      })
    )[0];
  }

  private async remembered(key: string, read: () => Promise<ContentItem[]>): Promise<ContentItem[]> {
    const cached = this.cache.get(key);
    if (cached) return cached.items;
    const items = await read();
    this.cache.set(key, { items });
    return items;
  }

  private async read(options: { kind?: string; after?: string; limit: number }): Promise<ContentItem[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT * FROM content_items
       WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR content_id > $2)
       ORDER BY content_id LIMIT $3`,
      [options.kind ?? null, options.after ?? null, options.limit],
    );
    return rows.map(itemOf);
  }

  /** Creates the items of a seed file that do not exist yet. */
  async seed(path: string): Promise<number> {
    const items = contentSeedSchema.parse(JSON.parse(await readFile(path, 'utf8')));
    const { rowCount } = await this.db.query(
      `INSERT INTO content_items (content_id, kind, title, summary, body, tags, required_entitlement)
       SELECT id, kind, title, summary, body, ARRAY(SELECT jsonb_array_elements_text(tags)), "requiredEntitlement"
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, kind text, title text, summary text, body text, tags jsonb,
                                               "requiredEntitlement" text)
       ON CONFLICT (content_id) DO NOTHING`,
      [JSON.stringify(items)],
    );
    return rowCount ?? 0;
  }

  /*
   * The write side, for admins. Every write is one SQL statement, and PostgreSQL runs a
   * statement as one transaction: an import is stored whole or not at all, whichever of
   * its items the database refuses. After a change the whole cache is dropped (the item
   * may sit in any listing page); writes are rare, so the cost is one round of re-reads.
   * Other instances keep what they remember until it expires (5 s). One window remains
   * here too: a read that queried before the commit and stores its answer after the drop
   * keeps the old item for up to those 5 s; closing it needs a generation check where
   * reads are remembered.
   */

  /**
   * Creates or replaces one item. Sending the stored item again changes nothing, not
   * even `updatedAt`: an admin's tool re-sending what it has must not make every CDN
   * copy (their ETags include `updatedAt`) look stale.
   */
  async put(item: ContentItemInput): Promise<{ item: ContentItem; created: boolean }> {
    const [written] = await this.upsert([item]);
    if (written) return { item: itemOf(written), created: written.created };
    const { rows } = await this.db.query<Row>(`SELECT * FROM content_items WHERE content_id = $1`, [item.id]);
    // Deleted between the two statements: the put came later, so it must still land.
    return rows[0] ? { item: itemOf(rows[0]), created: false } : this.put(item);
  }

  /** Creates or replaces many items, all or none; counts what happened to them. */
  async import(items: readonly ContentItemInput[]): Promise<ImportCounts> {
    const written = await this.upsert(items);
    const created = written.filter((row) => row.created).length;
    return { created, updated: written.length - created, unchanged: items.length - written.length };
  }

  /**
   * Removes an item; false when there was none. Its likes go with it (the foreign keys
   * of migration 0011 cascade): a like of nothing means nothing, and keeping them would
   * make an item that anyone liked impossible to delete. An item created again under
   * the same id starts with no likes.
   */
  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`DELETE FROM content_items WHERE content_id = $1`, [id]);
    if (!rowCount) return false;
    this.cache.clear();
    return true;
  }

  /**
   * Inserts new items and updates those that differ, in one statement; an item equal
   * to the stored one is left alone (locked, not rewritten). Answers the rows written,
   * each with whether it is new: absent before the statement began. A row created by
   * another writer during the statement is then updated and counted as created.
   */
  private async upsert(items: readonly ContentItemInput[]): Promise<(Row & { created: boolean })[]> {
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const { id } of items) (seen.has(id) ? duplicates : seen).add(id);
    if (duplicates.size > 0) {
      throw new InvalidContent('duplicate_content_id', `Ids given more than once: ${[...duplicates].join(', ')}`);
    }
    let rows: (Row & { created: boolean })[];
    try {
      ({ rows } = await this.db.query<Row & { created: boolean }>(
        `WITH incoming AS (
           SELECT id, kind, title, summary, body, ARRAY(SELECT jsonb_array_elements_text(tags)) AS tags,
                  "requiredEntitlement" AS required_entitlement
           FROM jsonb_to_recordset($1::jsonb) AS r(id text, kind text, title text, summary text, body text,
                                                   tags jsonb, "requiredEntitlement" text)
         ),
         existing AS (SELECT content_id FROM content_items WHERE content_id IN (SELECT id FROM incoming)),
         written AS (
           INSERT INTO content_items AS stored (content_id, kind, title, summary, body, tags, required_entitlement)
           SELECT id, kind, title, summary, body, tags, required_entitlement FROM incoming
           ON CONFLICT (content_id) DO UPDATE
             SET kind = excluded.kind, title = excluded.title, summary = excluded.summary, body = excluded.body,
                 tags = excluded.tags, required_entitlement = excluded.required_entitlement, updated_at = now()
             WHERE (stored.kind, stored.title, stored.summary, stored.body, stored.tags, stored.required_entitlement)
                   IS DISTINCT FROM
                   (excluded.kind, excluded.title, excluded.summary, excluded.body, excluded.tags,
                    excluded.required_entitlement)
           RETURNING stored.*
         )
         SELECT written.*, existing.content_id IS NULL AS created
         FROM written LEFT JOIN existing USING (content_id)`,
        [JSON.stringify(items)],
      ));
    } catch (error) {
      // What JSON carries but PostgreSQL text cannot hold: U+0000 (22P05), a lone surrogate (22P02).
      const code = (error as { code?: string }).code;
      if (code !== '22P05' && code !== '22P02') throw error;
      const detail = (error as { detail?: string }).detail ?? (error as Error).message;
      throw new InvalidContent('unstorable_text', `A text cannot be stored: ${detail}`);
    }
    if (rows.length > 0) this.cache.clear();
    return rows;
  }
}

/** An item as admins send it and the seed file holds it. */
export type ContentItemInput = z.output<typeof contentSeedSchema>[number];

export interface ImportCounts {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
}

/** Items refused, with nothing of the write stored. */
export class InvalidContent extends Refusal<'duplicate_content_id' | 'unstorable_text'> {
  constructor(code: 'duplicate_content_id' | 'unstorable_text', message: string) {
    super('invalid', code, message);
  }
}

function itemOf(row: Row): ContentItem {
  return {
    id: row.content_id,
    kind: row.kind,
    title: row.title,
    summary: row.summary,
    body: row.body,
    tags: row.tags,
    requiredEntitlement: row.required_entitlement,
    updatedAt: row.updated_at,
  };
}
