import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

export interface CpuShares {
  /** Busy CPU time as cores, over the interval (2 = both cores of a 2-core machine all the time). */
  readonly subledger: number;
  /** The same, per Subledger process, in the order their pids were given. */
  readonly byProcess: readonly number[];
  readonly postgres: number;
  /** The SQS emulator, when it runs in a process of its own; 0 otherwise. */
  readonly queue: number;
  readonly loadGenerator: number;
  /** Everything else on the machine: other people's tests, for one. */
  readonly other: number;
  readonly idle: number;
}

interface Sample {
  readonly at: number;
  readonly byProcess: readonly number[];
  /** Ticks of each process of the PostgreSQL server, by pid. */
  readonly postgres: ReadonlyMap<number, number>;
  readonly queue: number;
  readonly self: number;
  readonly busy: number;
  readonly idle: number;
}

/**
 * Who used the machine's cores while something was measured, from /proc (Linux):
 * the service process, every process of the PostgreSQL server, this process (the
 * load generator), and the rest.
 */
export class CpuMeter {
  private readonly subledgerPids: readonly number[];
  private readonly postmasterPid: number | undefined;
  private readonly queuePid: number | undefined;

  constructor(subledgerPids: readonly number[], postmasterPid: number | undefined, queuePid?: number) {
    this.subledgerPids = subledgerPids;
    this.postmasterPid = postmasterPid;
    this.queuePid = queuePid;
  }

  sample(): Sample {
    const [busy, idle] = machineTicks();
    const self = process.cpuUsage();
    return {
      at: performance.now(),
      byProcess: this.subledgerPids.map(processTicks),
      postgres: this.postmasterPid === undefined ? new Map() : postgresTicks(this.postmasterPid),
      queue: this.queuePid === undefined ? 0 : processTicks(this.queuePid),
      self: ((self.user + self.system) / 1e6) * TICKS_PER_SECOND,
      busy,
      idle,
    };
  }

  between(from: Sample, to: Sample): CpuShares {
    const seconds = (to.at - from.at) / 1000;
    const cores = (ticks: number) => ticks / TICKS_PER_SECOND / seconds;
    const byProcess = to.byProcess.map((ticks, i) => cores(ticks - from.byProcess[i]!));
    const subledger = byProcess.reduce((sum, c) => sum + c, 0);
    const postgres = cores(ticksBetween(from.postgres, to.postgres));
    const queue = cores(to.queue - from.queue);
    const loadGenerator = cores(to.self - from.self);
    const busy = cores(to.busy - from.busy);
    return {
      subledger,
      byProcess,
      postgres,
      queue,
      loadGenerator,
      other: Math.max(0, busy - subledger - postgres - queue - loadGenerator),
      idle: cores(to.idle - from.idle),
    };
  }
}

/** The pid of the PostgreSQL server at `serverUrl` (Linux only), from one of its backends. */
export async function findPostmaster(serverUrl: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return postmasterOf(rows[0]!.pid);
  } finally {
    await client.end();
  }
}

/** The postmaster is the parent of any backend, e.g. the one answering `SELECT pg_backend_pid()`. */
export function postmasterOf(backendPid: number): number | undefined {
  return os.platform() === 'linux' ? stat(backendPid)?.ppid : undefined;
}

function stat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after its closing one.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

function processTicks(pid: number): number {
  return stat(pid)?.ticks ?? 0;
}

/** The postmaster and its children, each process's ticks by pid. */
function postgresTicks(postmasterPid: number): Map<number, number> {
  const ticks = new Map([[postmasterPid, processTicks(postmasterPid)]]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s?.ppid === postmasterPid) ticks.set(Number(entry), s.ticks);
  }
  return ticks;
}

/**
 * What the server's processes used between two samples: each process present at the end,
 * from its ticks at the start (or from nothing, if it started since). A process that
 * exited meanwhile is not counted: summing totals instead took away all it had used
 * before (an idle pooled connection closing in a quiet window made PostgreSQL's share
 * fall and "other" rise by as much).
 */
function ticksBetween(from: ReadonlyMap<number, number>, to: ReadonlyMap<number, number>): number {
  let ticks = 0;
  for (const [pid, now] of to) ticks += now - (from.get(pid) ?? 0);
  return ticks;
}

function machineTicks(): [busy: number, idle: number] {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return [user + nice + system + irq + softirq + steal, idle + iowait];
  } catch {
    return [0, 0];
  }
}
