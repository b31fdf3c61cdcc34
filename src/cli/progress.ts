import type { CliIo } from './io.ts';

export interface ProgressBar {
  start(total: number, startValue: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}

/**
 * A progress bar (rate, ETA) on the terminal behind stderr; none when stderr is not a
 * terminal, as cli-progress does itself, so that logs and tests get no control codes.
 */
export async function progressBar(io: CliIo, format: string): Promise<ProgressBar> {
  const terminal = io.terminals?.stderr;
  if (!terminal) return { start() {}, update() {}, stop() {} };
  const { Presets, SingleBar } = await import('cli-progress');
  return new SingleBar({ format, hideCursor: true, stream: terminal }, Presets.shades_classic);
}
