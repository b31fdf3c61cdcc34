import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface ProcessOptions {
  /**
   * Its own process group, as a shell gives a command: `signalGroup` then signals the
   * whole group, as a terminal's Ctrl-C does.
   */
  readonly detached?: boolean;
}

/**
 * Runs the program `npm start` runs (`node src/main.ts`) as a real process with the
 * given environment only: a signal, SIGKILL included, reaches it.
 */
export function startSubledgerProcess(env: Record<string, string>, options: ProcessOptions = {}): RunningProcess {
  return startTsProcess(['src/main.ts'], env, options);
}

/** Any of our TypeScript entry points (with its arguments) as a process of its own, run by Node as it is. */
export function startTsProcess(
  args: readonly string[],
  env: Record<string, string> = {},
  options: ProcessOptions = {},
): RunningProcess {
  const child = spawn(process.execPath, [...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return {
    child,
    output: () => output,
    async stop() {
      // A process killed by a signal has no exit code, only a signal code.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

/** Sends `signal` to the process group of a process started with `detached`, as a terminal does. */
export function signalGroup(running: RunningProcess, signal: NodeJS.Signals): void {
  process.kill(-running.child.pid!, signal);
}

export async function exitCodeOf(process: RunningProcess): Promise<number | null> {
  if (process.child.exitCode !== null) return process.child.exitCode;
  const [code] = await once(process.child, 'exit');
  return code as number | null;
}

/** Polls `url` until it answers 200, or fails with the process output. */
export async function waitForHttp(url: string, process: RunningProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null) throw new Error(`process exited early:\n${process.output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${process.output()}`);
}
