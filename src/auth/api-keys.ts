import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';

export type ApiKeyRole = 'app-server' | 'admin';
export const API_KEY_ROLES: readonly ApiKeyRole[] = ['app-server', 'admin'];
/** Every key starts so: easy to tell from a JWT, and for secret scanners to spot. */
export const API_KEY_PREFIX = 'sl_';

export interface ApiKey {
  readonly keyId: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** API keys in PostgreSQL, stored hashed (a 256-bit random key needs no slow hash). */
export class ApiKeys {
  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  /** A new key; the secret is returned this once and never stored. */
  async create(name: string, role: ApiKeyRole): Promise<{ key: ApiKey; secret: string }> {
    const keyId = randomBytes(6).toString('hex');
    const secret = `${API_KEY_PREFIX}${keyId}_${randomBytes(32).toString('base64url')}`;
    const { rows } = await this.db.query<{ created_at: Date }>(
      `INSERT INTO api_keys (key_id, name, role, key_hash) VALUES ($1, $2, $3, $4) RETURNING created_at`,
      [keyId, name, role, hashOf(secret)],
    );
    return { key: { keyId, name, role, createdAt: rows[0]!.created_at, revokedAt: null }, secret };
  }

  /** The live key with this secret, if any. */
  async find(secret: string): Promise<ApiKey | undefined> {
    const { rows } = await this.db.query<ApiKeyRow>(
      `SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hashOf(secret)],
    );
    return rows[0] && keyOf(rows[0]);
  }

  async list(): Promise<ApiKey[]> {
    const { rows } = await this.db.query<ApiKeyRow>(`SELECT * FROM api_keys ORDER BY created_at`);
    return rows.map(keyOf);
  }

  async revoke(keyId: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL`,
      [keyId],
    );
    return rowCount === 1;
  }
}

interface ApiKeyRow {
  key_id: string;
  name: string;
  role: ApiKeyRole;
  created_at: Date;
  revoked_at: Date | null;
}

function keyOf(row: ApiKeyRow): ApiKey {
  return { keyId: row.key_id, name: row.name, role: row.role, createdAt: row.created_at, revokedAt: row.revoked_at };
}
