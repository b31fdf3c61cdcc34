import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.ts';
import {
  exitCodeOf,
  signalGroup,
  startSubledgerProcess,
  waitForHttp,
  type RunningProcess,
} from '../support/subledger-process.ts';

/*
 * The life of the embedded PostgreSQL that `npm start` runs: it ends with the service however
 * the service ends (Ctrl-C, SIGTERM, a port already taken), and a server left behind by a
 * service killed with SIGKILL is stopped by the next start on the same data dir.
 */

const TIMEOUT = 120_000;
/** A stack trace line, as Node prints them. */
const STACK_LINE = /^\s+at /m;

interface Setup {
  readonly dataDir: string;
  readonly env: Record<string, string>;
  readonly base: string;
}

const dataDirs: string[] = [];
const processes: RunningProcess[] = [];
/** Postmasters seen during a test: none may survive it. */
const postmasters = new Set<number>();

async function setUp(extra: Record<string, string> = {}): Promise<Setup> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'subledger-pg-life-'));
  dataDirs.push(dataDir);
  const [httpPort, pgPort] = [await freePort(), await freePort()];
  const env = {
    PORT: String(httpPort),
    SUBLEDGER_DATA_DIR: dataDir,
    EMBEDDED_POSTGRES_PORT: String(pgPort),
    LOG_LEVEL: 'info',
    ...extra,
  };
  return { dataDir, env, base: `http://127.0.0.1:${env.PORT}` };
}

function start(env: Record<string, string>): RunningProcess {
  const running = startSubledgerProcess(env, { detached: true });
  processes.push(running);
  return running;
}

/** The pid in the first line of the cluster's `postmaster.pid` (the cluster is `<dataDir>/pg`). */
async function postmasterPid(dataDir: string): Promise<number> {
  const pid = Number.parseInt(await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8'), 10);
  expect(pid).toBeGreaterThan(0);
  postmasters.add(pid);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
  // A zombie (dead, not yet reaped) is gone for our purposes.
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Waits until `pid` no longer runs; then `process.kill(pid, 0)` fails with ESRCH. */
async function expectGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  expect(alive(pid), `PostgreSQL (pid ${pid}) still runs`).toBe(false);
  if (!isZombie(pid)) expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
}

/** The process group of `pid` (Linux). */
async function processGroupOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** The JSON log lines of the output (other lines, if any, left out). */
function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function expectNoStackTrace(output: string): void {
  expect(output).not.toMatch(STACK_LINE);
  // JSON lines carry a logged error's stack in a field, escaped onto one line.
  expect(output).not.toContain('"stack"');
}

afterEach(async () => {
  // Whatever a failing test left behind.
  for (const running of processes.splice(0)) {
    if (running.child.exitCode === null && running.child.signalCode === null) {
      try {
        signalGroup(running, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const pid of postmasters) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  }
  postmasters.clear();
  for (const dir of dataDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('the embedded PostgreSQL of `npm start`', () => {
  it(
    'is out of reach of Ctrl-C, and the service stops it on Ctrl-C: exit 0, one line, no stack trace',
    async () => {
      const { dataDir, env, base } = await setUp();
      const service = start(env);
      await waitForHttp(`${base}/health`, service);
      const pid = await postmasterPid(dataDir);
      // Its own process group: a terminal's Ctrl-C goes to the service's group only.
      expect(await processGroupOf(pid)).not.toBe(await processGroupOf(service.child.pid!));
      const before = service.output().length;

      signalGroup(service, 'SIGINT');
      expect(await exitCodeOf(service)).toBe(0);

      const output = service.output();
      expectNoStackTrace(output);
      const afterSignal = logLines(output.slice(before));
      expect(afterSignal.map((line) => line.msg)).toEqual(['shutting down']);
      await expectGone(pid);
    },
    TIMEOUT,
  );

  it(
    'left running by a service killed with SIGKILL, is stopped by the next start, which runs its own',
    async () => {
      const { dataDir, env, base } = await setUp();
      const first = start(env);
      await waitForHttp(`${base}/health`, first);
      const orphan = await postmasterPid(dataDir);

      first.child.kill('SIGKILL');
      expect(await exitCodeOf(first)).toBeNull();
      expect(first.child.signalCode).toBe('SIGKILL');
      // Nobody stopped it.
      await sleep(500);
      expect(alive(orphan)).toBe(true);

      const second = start(env);
      await waitForHttp(`${base}/health`, second);
      expect((await fetch(`${base}/ready`)).status).toBe(200);
      await expectGone(orphan, 1_000);
      const fresh = await postmasterPid(dataDir);
      expect(fresh).not.toBe(orphan);
      expect(alive(fresh)).toBe(true);
      const owner = Number.parseInt(await readFile(path.join(dataDir, 'postgres-owner.pid'), 'utf8'), 10);
      expect(owner).toBe(second.child.pid);
      const warnings = logLines(second.output()).filter((line) => line.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ pid: orphan });
      expect(String(warnings[0]!.msg)).toMatch(/left running/);

      expect(await second.stop()).toBe(0);
      expectNoStackTrace(second.output());
      await expectGone(fresh);
    },
    TIMEOUT,
  );

  it(
    'is stopped when the HTTP port is taken: one line naming PORT, exit 1, no stack trace',
    async () => {
      const { dataDir, env } = await setUp();
      const port = Number(env.PORT);
      const taken: Server = createServer();
      await new Promise<void>((resolve, reject) => {
        taken.once('error', reject);
        taken.listen(port, '127.0.0.1', resolve);
      });
      try {
        const service = start(env);
        // Its PostgreSQL, seen while the service starts (it is up before the port is tried).
        let pid: number | undefined;
        const watch = (async () => {
          while (service.child.exitCode === null && pid === undefined) {
            pid = await postmasterPid(dataDir).catch(() => undefined);
            if (pid === undefined) await sleep(20);
          }
        })();
        expect(await exitCodeOf(service)).toBe(1);
        await watch;

        const output = service.output();
        expect(output).toContain(`port ${port} is in use`);
        expect(output).toContain('PORT');
        expectNoStackTrace(output);
        const fatal = logLines(output).filter((line) => (line.level as number) >= 50);
        expect(fatal.map((line) => line.msg)).toEqual([`port ${port} is in use: set PORT to another port`]);

        expect(pid, `no postmaster.pid seen:\n${output}`).toBeDefined();
        await expectGone(pid!);
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    },
    TIMEOUT,
  );

  it(
    'does not log every request at the default level',
    async () => {
      const { env, base } = await setUp();
      delete (env as { LOG_LEVEL?: string }).LOG_LEVEL;
      const service = start(env);
      await waitForHttp(`${base}/health`, service);
      for (const route of ['/health', '/v1/content', '/health', '/v1/content']) await fetch(`${base}${route}`);
      expect(await service.stop()).toBe(0);

      const lines = logLines(service.output());
      // The default level is info: the start-up lines are there.
      expect(lines.some((line) => line.level === 30 && line.msg === 'Subledger is running')).toBe(true);
      const requestLines = lines.filter((line) =>
        ['incoming request', 'request completed'].includes(line.msg as string),
      );
      expect(requestLines).toEqual([]);
      expect(service.output()).not.toMatch(/incoming request|request completed/);
    },
    TIMEOUT,
  );
});
