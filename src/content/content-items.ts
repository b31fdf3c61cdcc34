import { readFile } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Queryable } from '../db/pool.ts';

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

  constructor(private readonly db: Queryable) {}

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
