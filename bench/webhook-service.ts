import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ServiceOptions {
  readonly databaseUrl: string;
  /** APPLE_TRUSTED_ROOTS, unless `env` sets it. */
  readonly trustedRootPath?: string;
  /** Folder for the service's log (and CPU profile). */
  readonly workDir: string;
  readonly logLevel: string;
  /** Extra settings (DATABASE_POOL_SIZE, ...), as `npm start` reads them. */
  readonly env?: Readonly<Record<string, string>>;
  /** Write a V8 CPU profile when the service exits, into `profileDir` (by default workDir). */
  readonly cpuProfile?: boolean;
  readonly profileDir?: string;
}

export interface RunningService {
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** Set once the process has ended: something outside stopped it mid-run, say. */
  readonly exit: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts Subledger as `npm start` does (src/main.ts), in a process of its own so
 * that the load generator does not share its event loop.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const port = await freePort();
  const logFile = path.join(options.workDir, `subledger-${port}.log`);
  const log = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [
      ...(options.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir ?? options.workDir] : []),
      'src/main.ts',
    ],
    {
      cwd: REPO,
      stdio: ['ignore', log, log],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATABASE_URL: options.databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        ...(options.trustedRootPath && { APPLE_TRUSTED_ROOTS: options.trustedRootPath }),
        LOG_LEVEL: options.logLevel,
        ...options.env,
      },
    },
  );
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exit) throw new Error(`Subledger ${exit} while starting; its log:\n${tail(logFile)}`);
    const ready = await fetch(`${url}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Subledger was not ready within 60 s; its log:\n${tail(logFile)}`);
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid!,
    logFile,
    get exit() {
      return exit;
    },
    async stop() {
      if (exit) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `count` instances of the service on one database, as replicas behind a load balancer would be. */
export interface ServiceGroup {
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  /** Why an instance ended before it was stopped, if one did. */
  readonly exit: string | undefined;
  /** The last lines of each instance's log. */
  tail(): string;
  stop(): Promise<void>;
}

/**
 * With `separateWorker`, the `count` instances only accept and serve (SUBLEDGER_ROLE=api)
 * and one more, a worker, processes what they accept.
 */
export async function startServices(
  count: number,
  options: ServiceOptions & { readonly separateWorker?: boolean },
): Promise<ServiceGroup> {
  const { separateWorker, ...common } = options;
  const services: RunningService[] = [];
  const stop = () => Promise.all(services.map((s) => s.stop())).then(() => {});
  try {
    // One after the other: the first applies the schema migrations.
    for (let i = 0; i < count; i++) {
      const env = separateWorker ? { ...common.env, SUBLEDGER_ROLE: 'api' } : common.env;
      services.push(await startService({ ...common, ...(env && { env }) }));
    }
    if (separateWorker)
      services.push(await startService({ ...common, env: { ...common.env, SUBLEDGER_ROLE: 'worker' } }));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    urls: services.slice(0, count).map((s) => s.url),
    pids: services.map((s) => s.pid),
    get exit() {
      const ended = services.find((s) => s.exit);
      return ended && `instance ${services.indexOf(ended) + 1} ${ended.exit}`;
    },
    tail: () => services.map((s) => `${s.logFile}:\n${tail(s.logFile)}`).join('\n'),
    stop,
  };
}
