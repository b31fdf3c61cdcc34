import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { docBlock, REPOSITORY_ROOT } from './doc-blocks.ts';
import { freePort } from './free-port.ts';
import { BackgroundTerminal, Terminal, type TerminalOptions } from './terminal.ts';

/** What a fresh checkout holds that a reader's commands use. */
const CHECKOUT = ['package.json', 'node_modules', 'bin', 'src', 'catalog', 'certs', 'examples'];

/**
 * A fresh checkout for running documentation blocks as a reader would: the repository's
 * files linked into an empty folder, so the blocks' `.data` is its own, and terminals
 * that type the blocks there.
 *
 * Ports are the one thing rewritten: the blocks say `localhost:3000` (and 54329 for the
 * embedded PostgreSQL), and each sandbox takes free ports instead, so that it can run
 * beside anything else. `SUBLEDGER_URL` tells the dev commands where the service is.
 */
export class DocSandbox {
  private readonly terminals: (Terminal | BackgroundTerminal)[] = [];
  private readonly replacements: [RegExp, string][];

  readonly dir: string;
  readonly servicePort: number;
  readonly options: TerminalOptions;

  private constructor(dir: string, servicePort: number, options: TerminalOptions, replacements: [RegExp, string][]) {
    this.dir = dir;
    this.servicePort = servicePort;
    this.options = options;
    this.replacements = replacements;
  }

  static async create(): Promise<DocSandbox> {
    assertReaderTools();
    const dir = await mkdtemp(path.join(tmpdir(), 'subledger-docs-'));
    // As a checkout is: others may pass through (as root, the embedded PostgreSQL runs as `postgres`).
    await chmod(dir, 0o755);
    for (const entry of CHECKOUT) await symlink(path.join(REPOSITORY_ROOT, entry), path.join(dir, entry));
    const servicePort = await freePort();
    const postgresPort = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      PORT: String(servicePort),
      EMBEDDED_POSTGRES_PORT: String(postgresPort),
      SUBLEDGER_URL: `http://127.0.0.1:${servicePort}`,
    };
    return new DocSandbox(dir, servicePort, { cwd: dir, env }, [
      [/\b(localhost|127\.0\.0\.1):3000\b/g, `$1:${servicePort}`],
      [/\b54329\b/g, String(postgresPort)],
    ]);
  }

  /** Rewrites another port of the docs (`from`) to a free one; returns it. */
  async remapPort(from: number): Promise<number> {
    const port = await freePort();
    this.replacements.push([new RegExp(`\\b${from}\\b`, 'g'), String(port)]);
    return port;
  }

  /** A documentation block, as this sandbox runs it. */
  block(id: string): string {
    return this.replacements.reduce((code, [pattern, to]) => code.replaceAll(pattern, to), docBlock(id).code);
  }

  terminal(): Terminal {
    const terminal = new Terminal(this.options);
    this.terminals.push(terminal);
    return terminal;
  }

  /** Starts a block that keeps running, in a terminal of its own. */
  background(id: string): BackgroundTerminal {
    return this.backgroundCommand(this.block(id));
  }

  /** Starts a command that keeps running (one the docs name in passing), in a terminal of its own. */
  backgroundCommand(code: string): BackgroundTerminal {
    const terminal = new BackgroundTerminal(code, this.options);
    this.terminals.push(terminal);
    return terminal;
  }

  /** Until `url` answers 2xx; fails with the terminal's output if it ends first. */
  async until(url: string, terminal: BackgroundTerminal, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const up = await fetch(url).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return;
      if (terminal.exited || Date.now() > deadline) {
        throw new Error(`${url} did not answer; the terminal:\n${terminal.log()}`);
      }
      await sleep(200);
    }
  }

  /** Stops the terminals, the last started first (a second instance before the first). */
  async close(): Promise<void> {
    for (const terminal of this.terminals.reverse()) {
      await (terminal instanceof Terminal ? terminal.close() : terminal.stop());
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** What the docs assume a reader's machine has besides Node: a clear failure, not a puzzle, when it is missing. */
function assertReaderTools(): void {
  for (const tool of ['bash', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`The documentation's blocks use ${tool}, which this machine lacks: install it (.ci/run does)`);
    }
  }
}
