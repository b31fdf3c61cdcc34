import { readFile } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Queryable } from '../db/pool.ts';
import { clientConfigProblems, type ClientConfigDocument } from '../domain/client-config.ts';
import { Refusal } from '../domain/refusal.ts';

const settings = {
  flags: z.record(z.string(), z.boolean()),
  offering: z.string().min(1).optional(),
  contentKinds: z.array(z.string().min(1)),
};

/** A client configuration document as admins send it (and as the seed file holds it). */
export const clientConfigDocumentSchema = z.strictObject({
  defaults: z.strictObject(settings),
  minimumVersion: z.strictObject({ ios: z.string().optional(), android: z.string().optional() }).optional(),
  rules: z.array(
    z.strictObject({
      platform: z.enum(['ios', 'android']).optional(),
      versions: z.string().optional().describe('A semver range, e.g. ">=1.9.0 <2.0.0"'),
      set: z.strictObject({
        flags: settings.flags.optional(),
        offering: settings.offering,
        contentKinds: settings.contentKinds.optional(),
      }),
    }),
  ),
});

export class InvalidClientConfig extends Refusal<'invalid_config'> {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('invalid', 'invalid_config', `Invalid client configuration: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** A client's document as stored, with when it last changed. */
export type StoredClientConfig = { document: ClientConfigDocument; updatedAt: Date };

/**
 * Client configuration documents in PostgreSQL, remembered for a few seconds: every
 * app start asks, so this is among the hottest reads. An admin's change shows at once
 * in the instance that took it, and within CACHE_MS everywhere else.
 */
export class ClientConfigs {
  static readonly CACHE_MS = 5_000;
  private readonly cache = new LRUCache<string, { stored: StoredClientConfig | undefined }>({
    max: 1_000,
    ttl: ClientConfigs.CACHE_MS,
  });

  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  async get(clientId: string): Promise<StoredClientConfig | undefined> {
    const cached = this.cache.get(clientId);
    if (cached) return cached.stored;
    const stored = await this.read(clientId);
    this.cache.set(clientId, { stored });
    return stored;
  }

  private async read(clientId: string): Promise<StoredClientConfig | undefined> {
    const { rows } = await this.db.query<{ document: ClientConfigDocument; updated_at: Date }>(
      `SELECT document, updated_at FROM client_configs WHERE client_id = $1`,
      [clientId],
    );
    return rows[0] && { document: rows[0].document, updatedAt: rows[0].updated_at };
  }

  /** Replaces a client's document; refuses one with bad versions or ranges. */
  async put(clientId: string, document: ClientConfigDocument): Promise<void> {
    const problems = clientConfigProblems(document);
    if (problems.length > 0) throw new InvalidClientConfig(problems);
    await this.db.query(
      `INSERT INTO client_configs (client_id, document) VALUES ($1, $2)
       ON CONFLICT (client_id) DO UPDATE SET document = excluded.document, updated_at = now()`,
      [clientId, document],
    );
    this.cache.delete(clientId);
  }

  /** Seeds clients from a file `{ "<clientId>": document }`, leaving those that exist alone. */
  async seed(path: string): Promise<string[]> {
    const parsed = z.record(z.string(), clientConfigDocumentSchema).parse(JSON.parse(await readFile(path, 'utf8')));
    const seeded: string[] = [];
    for (const [clientId, document] of Object.entries(parsed)) {
      if (clientConfigProblems(document).length > 0) throw new InvalidClientConfig(clientConfigProblems(document));
      const { rowCount } = await this.db.query(
        `INSERT INTO client_configs (client_id, document) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING`,
        [clientId, document],
      );
      if (rowCount === 1) seeded.push(clientId);
    }
    return seeded;
  }
}
