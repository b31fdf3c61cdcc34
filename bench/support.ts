import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { databaseUrl, withAdmin } from '../test/support/admin-connection.ts';

export interface BenchPostgres {
  readonly serverUrl: string;
  /** A new empty database on the server. */
  freshDatabase(tag: string): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  settings(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * The embedded PostgreSQL with its default (durable) settings, in a temporary folder, its WAL
 * written once (see writeWalOnce), or BENCH_DATABASE_URL.
 */
export async function benchPostgres(): Promise<BenchPostgres> {
  const external = process.env.BENCH_DATABASE_URL;
  let stopServer = async () => {};
  let serverUrl: string;
  if (external) {
    serverUrl = external;
  } else {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'subledger-bench-'));
    const server = await startEmbeddedPostgres({ dataDir, port: 55_000 + (process.pid % 1000), ephemeral: true });
    serverUrl = server.url;
    stopServer = async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
    const settings = namedValues(process.env.BENCH_POSTGRES_SETTINGS);
    if (Object.keys(settings).length > 0) await withAdmin(serverUrl, (c) => applySettings(c, settings));
    if (process.env.FRESH_WAL !== '1') await withAdmin(serverUrl, writeWalOnce);
  }
  const admin = <T>(work: (client: pg.Client) => Promise<T>) => withAdmin(serverUrl, work);
  let counter = 0;
  return {
    serverUrl,
    async freshDatabase(tag) {
      const name = `bench_${tag}_${process.pid}_${counter++}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return databaseUrl(serverUrl, name);
    },
    async dropDatabase(url) {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`));
    },
    async settings() {
      const { rows } = await admin((c) =>
        c.query<{ name: string; setting: string }>(
          `SELECT name, setting FROM pg_settings
           WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'server_version')`,
        ),
      );
      return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    },
    stop: () => stopServer(),
  };
}

/** `NAME=value,NAME=value` (SERVICE_ENV, BENCH_POSTGRES_SETTINGS) as an object; a value may hold '='. */
export function namedValues(text: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (text ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

/** BENCH_POSTGRES_SETTINGS=max_wal_size=4GB,...: server settings a reload applies, for the embedded server. */
async function applySettings(client: pg.Client, settings: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(settings)) {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`Not a setting name: ${name}`);
    await client.query(`ALTER SYSTEM SET ${name} = ${pg.escapeLiteral(value)}`);
  }
  await client.query('SELECT pg_reload_conf()');
}

/**
 * Writes a little more WAL than the server keeps (max_wal_size, 1 GB by default), then
 * checkpoints, so that its segments are recycled from then on, as on a server that has run a
 * while: a new server creates and zero-fills each 16 MB segment the first time it needs it,
 * while commits wait, which is the first minute of a service, not its steady state. About 10 s
 * here. FRESH_WAL=1 measures a new server instead.
 */
async function writeWalOnce(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ bytes: string }>(
    `SELECT pg_size_bytes(current_setting('max_wal_size')) AS bytes`,
  );
  const rounds = Math.ceil((Number(rows[0]!.bytes) * 1.2) / 100e6); // about 100 MB of WAL a round
  process.stderr.write(`writing ${rounds * 100} MB of WAL once, so that its segments are recycled ...\n`);
  await client.query('CREATE TABLE bench_wal_warmup (payload text)');
  for (let round = 0; round < rounds; round++) {
    await client.query(`INSERT INTO bench_wal_warmup SELECT repeat('x', 900) FROM generate_series(1, 100000)`);
    await client.query('TRUNCATE bench_wal_warmup');
  }
  await client.query('DROP TABLE bench_wal_warmup');
  await client.query('CHECKPOINT');
}

/** Nearest rank; an empty list is NaN. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Runs `writers` concurrent loops that share `total` iterations. */
export async function inParallel(
  writers: number,
  total: number,
  loop: (writer: number, count: number) => Promise<void>,
) {
  const share = Math.floor(total / writers);
  await Promise.all(Array.from({ length: writers }, (_, w) => loop(w, share + (w < total % writers ? 1 : 0))));
}

/** Events per second for `count` events done by `work`. */
export async function rate(count: number, work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return count / ((performance.now() - started) / 1000);
}

/** One-row INSERT commits per second by one writer: the fsync-bound ceiling for any single sequential writer. */
export async function commitFloor(postgres: BenchPostgres, commits: number): Promise<number> {
  const url = await postgres.freshDatabase('floor');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x text)');
    for (let i = 0; i < 200; i++) await client.query('INSERT INTO t (x) VALUES ($1)', ['warm-up']);
    return await rate(commits, async () => {
      for (let i = 0; i < commits; i++) await client.query('INSERT INTO t (x) VALUES ($1)', ['x']);
    });
  } finally {
    await client.end();
    await postgres.dropDatabase(url);
  }
}
