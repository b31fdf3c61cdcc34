import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from './pool.ts';
import type { Logger } from '../observability/logger.ts';

export type SignalListener = (payload: string) => void;

export interface DatabaseSignalsOptions {
  readonly pool: Pool;
  readonly logger: Logger;
}

/** How soon to try again after the LISTEN connection broke. */
const RECONNECT_MS = 1_000;
/** Per channel, the least time between two notifications this process sends. */
const MIN_NOTIFY_GAP_MS = 5;

/** PostgreSQL channel names this code uses: plain identifiers, safe to write into LISTEN. */
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * News between the processes sharing a database, over PostgreSQL's LISTEN/NOTIFY: one
 * connection per process listens on every channel anyone here subscribed to.
 *
 * Notifications are a wake-up, never the only way news travels: whoever waits on one
 * also looks on a timer, and learns from `onListening` when the connection broke (news
 * may have been missed meanwhile) and when it is back.
 */
export class DatabaseSignals {
  private readonly listeners = new Map<string, Set<SignalListener>>();
  private readonly listeningListeners = new Set<(listening: boolean) => void>();
  private readonly sending = new Map<string, { inFlight: boolean; again: boolean; lastSentAt: number }>();
  private client: PoolClient | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private connectionLost: Promise<void> | undefined;
  private listeningNow = false;

  private readonly options: DatabaseSignalsOptions;

  constructor(options: DatabaseSignalsOptions) {
    this.options = options;
  }

  /** True while the connection listens: no notification can be missed. */
  get listening(): boolean {
    return this.listeningNow;
  }

  /** Calls `listener` with each notification on `channel`, from any process. Returns an unsubscribe. */
  subscribe(channel: string, listener: SignalListener): () => void {
    assertChannel(channel);
    let channelListeners = this.listeners.get(channel);
    if (!channelListeners) {
      channelListeners = new Set();
      this.listeners.set(channel, channelListeners);
      // Already listening on others: add this one now (a failure is a broken connection).
      this.client?.query(`LISTEN ${channel}`).catch(() => this.client?.release(true));
    }
    channelListeners.add(listener);
    return () => channelListeners.delete(listener);
  }

  /** Calls `listener` with false when the connection breaks, and true once it listens again. */
  onListening(listener: (listening: boolean) => void): () => void {
    this.listeningListeners.add(listener);
    return () => this.listeningListeners.delete(listener);
  }

  /**
   * Tells every process listening on `channel`, this one included, soon. Best effort and
   * coalesced: at most one notification per channel is on its way, and another follows
   * only after MIN_NOTIFY_GAP_MS, so a burst of news is one wake-up, and a busy writer
   * does not add a commit to the database for each thing it writes.
   */
  notify(channel: string): void {
    assertChannel(channel);
    const state = this.sending.get(channel) ?? { inFlight: false, again: false, lastSentAt: 0 };
    this.sending.set(channel, state);
    if (state.inFlight) {
      state.again = true;
      return;
    }
    state.inFlight = true;
    void this.send(channel, state);
  }

  /** Starts listening; resolves once the first LISTEN is in place, and rejects when it cannot be. */
  async start(): Promise<void> {
    this.running = true;
    await this.listen();
    this.loop = this.keepListening();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.client?.release(true);
    await this.loop;
  }

  private async send(channel: string, state: { inFlight: boolean; again: boolean; lastSentAt: number }) {
    try {
      do {
        state.again = false;
        const wait = state.lastSentAt + MIN_NOTIFY_GAP_MS - Date.now();
        if (wait > 0) await sleep(wait);
        state.lastSentAt = Date.now();
        await this.options.pool.query('SELECT pg_notify($1, $2)', [channel, '']).catch((err: unknown) => {
          // Those waiting look on a timer too: a lost wake-up only makes them later.
          this.options.logger.debug({ err, channel }, 'could not notify');
        });
      } while (state.again && this.running);
    } finally {
      state.inFlight = false;
    }
  }

  private async listen(): Promise<void> {
    const client = await this.options.pool.connect();
    const lost = new Promise<void>((resolve) => {
      client.once('error', (err) => {
        this.options.logger.warn({ err }, 'lost the LISTEN connection; waking on timers only until it is back');
        resolve();
      });
      client.once('end', () => resolve());
    });
    client.on('notification', ({ channel, payload }) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(payload ?? '');
    });
    try {
      for (const channel of this.listeners.keys()) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.client = client;
    this.connectionLost = lost;
    this.setListening(true);
  }

  private async keepListening(): Promise<void> {
    while (this.running) {
      await this.connectionLost;
      this.setListening(false);
      if (!this.running) return;
      this.client?.release(true);
      this.client = undefined;
      await sleep(RECONNECT_MS);
      try {
        await this.listen();
      } catch (err) {
        this.options.logger.warn({ err }, 'could not LISTEN; retrying');
        this.connectionLost = Promise.resolve();
      }
    }
  }

  private setListening(listening: boolean): void {
    if (this.listeningNow === listening) return;
    this.listeningNow = listening;
    for (const listener of this.listeningListeners) listener(listening);
  }
}

function assertChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new TypeError(`Not a channel name: ${channel}`);
}
