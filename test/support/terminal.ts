import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TerminalOptions {
  readonly cwd: string;
  readonly env: Record<string, string>;
}

/**
 * A terminal a reader types documentation blocks into: one bash that keeps its variables
 * (`KEY=$(...)` in one block, `$KEY` in the next) and its working directory between
 * blocks. A block stops at its first failing command, and so does the terminal.
 */
export class Terminal {
  private stdout = '';
  private stderr = '';
  private blocks = 0;
  private readonly bash: ChildProcess;
  private readonly options: TerminalOptions;

  constructor(options: TerminalOptions) {
    this.options = options;
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd: options.cwd, env: options.env, stdio: 'pipe' });
    this.bash.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.bash.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  /** Runs a block as typed; its standard output. Throws with both outputs when a command fails. */
  async type(code: string, { timeoutMs = 60_000 } = {}): Promise<string> {
    const file = path.join(this.options.cwd, `.terminal-block-${this.blocks++}.sh`);
    await writeFile(file, code);
    const done = `__block_done_${randomUUID()}__`;
    this.stdout = '';
    this.stderr = '';
    this.bash.stdin!.write(`set -eo pipefail; source ${JSON.stringify(file)}; set +eo pipefail; echo ${done}\n`);
    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes(done)) {
      if (this.bash.exitCode !== null) throw this.failure(`failed (bash exited with ${this.bash.exitCode})`, code);
      if (Date.now() > deadline) throw this.failure(`did not finish within ${timeoutMs} ms`, code);
      await sleep(20);
    }
    return this.stdout.slice(0, this.stdout.indexOf(done));
  }

  async close(): Promise<void> {
    if (this.bash.exitCode !== null) return;
    this.bash.stdin!.end('exit\n');
    await once(this.bash, 'exit');
  }

  private failure(what: string, code: string): Error {
    return new Error(`This block ${what}:\n${code}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`);
  }
}

/**
 * A block that keeps running (a server a reader starts in a terminal of its own), in its
 * own process group, so stopping it stops everything it started, as Ctrl-C would.
 */
export class BackgroundTerminal {
  private output = '';
  private readonly child: ChildProcess;

  constructor(code: string, options: TerminalOptions) {
    this.child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', code], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    }
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  log(): string {
    return this.output;
  }

  /** SIGINT to the group, as Ctrl-C; SIGKILL if it has not ended after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.exited) return;
    const exit = once(this.child, 'exit');
    process.kill(-this.child.pid!, 'SIGINT');
    const ended = await Promise.race([exit.then(() => true), sleep(graceMs).then(() => false)]);
    if (!ended) {
      process.kill(-this.child.pid!, 'SIGKILL');
      await exit;
    }
  }
}
