import { userInfo } from 'node:os';
/**
 * Where a `subledger` run reads its settings and writes its output: the real process
 * (`main.ts`), or a test that runs the CLI in its own process and keeps what it printed.
 */
export interface CliIo {
  /** The environment the configuration is read from, as `process.env` is. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Written as given: a line brings its own newline. */
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /**
   * The terminals behind stdout and stderr, when they are ones (never in tests): help
   * wraps to their width, and progress bars are drawn on stderr's. Without, help is
   * 80 columns wide and no bar is drawn, as for output piped to a file.
   */
  readonly terminals?: { readonly stdout?: NodeJS.WriteStream; readonly stderr?: NodeJS.WriteStream };
}

/** One line at a time, as `console.log` and `console.error` print. */
export function lines(io: CliIo): { out(line: string): void; err(line: string): void } {
  return { out: (line) => io.stdout(`${line}\n`), err: (line) => io.stderr(`${line}\n`) };
}

/** Who ran the command, for the log: the operating-system user (the environment's when the system has none). */
export function operatorOf(io: CliIo): string {
  try {
    return userInfo().username;
  } catch {
    return io.env.USER ?? 'unknown';
  }
}

/** Where the dev commands post to by default: `SUBLEDGER_URL`, else where `npm start` listens. */
export function runningSubledgerUrl(io: CliIo): string {
  return io.env.SUBLEDGER_URL || 'http://127.0.0.1:3000';
}
