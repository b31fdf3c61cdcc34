import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads until `done` holds, up to `timeoutMs`, and returns the last reading. For
 * reads of the global order: another test file's open transaction on the shared
 * server can hide new events for a moment (that is what keeps readers gap-free).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(25);
  }
}
