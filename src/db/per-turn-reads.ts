import { isDatabaseUnavailable } from './unavailable.ts';

interface Waiter<Value> {
  resolve(value: Value): void;
  reject(error: unknown): void;
}

/**
 * Reads asked for in the same turn of the event loop, made as one query: each caller asks
 * for one key and gets its own answer, so a burst of concurrent reads costs one round trip.
 *
 * A batch the database refuses for what it holds (a key it cannot take) is read again key
 * by key, so one bad key fails only those who asked for it. When the database cannot be
 * reached at all, every caller gets that error at once.
 */
export class PerTurnReads<Key, Value> {
  private next: Map<Key, Waiter<Value>[]> | undefined;
  private readonly readMany: (keys: Key[]) => Promise<(key: Key) => Value>;

  /** `readMany` reads the keys in one query; it answers with the value of each (asked once per caller). */
  constructor(readMany: (keys: Key[]) => Promise<(key: Key) => Value>) {
    this.readMany = readMany;
  }

  read(key: Key): Promise<Value> {
    return new Promise((resolve, reject) => {
      if (!this.next) {
        this.next = new Map();
        setImmediate(() => {
          const batch = this.next!;
          this.next = undefined;
          void this.answer(batch);
        });
      }
      const waiters = this.next.get(key) ?? [];
      waiters.push({ resolve, reject });
      this.next.set(key, waiters);
    });
  }

  private async answer(batch: Map<Key, Waiter<Value>[]>): Promise<void> {
    let valueOf: (key: Key) => Value;
    try {
      valueOf = await this.readMany([...batch.keys()]);
    } catch (error) {
      if (batch.size > 1 && !isDatabaseUnavailable(error)) {
        await Promise.all([...batch].map((entry) => this.answer(new Map([entry]))));
        return;
      }
      for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
      return;
    }
    for (const [key, waiters] of batch) for (const w of waiters) w.resolve(valueOf(key));
  }
}
