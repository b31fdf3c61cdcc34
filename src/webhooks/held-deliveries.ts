/**
 * How many deliveries a worker holds leased per endpoint, as a multiple of its
 * `maxInFlight`: those being sent, and as many again waiting for a free slot. A slot that
 * frees takes a waiting one at once, without a claim's round trip to the database; the
 * claims top the lanes up in batches.
 *
 * It also bounds how long a delivery waits: each of the endpoint's slots frees within one
 * attempt, so a waiting delivery starts within one attempt of being leased, well inside
 * its lease (two attempts and a second).
 */
export const HELD_PER_SLOT = 2;

interface Lane<T> {
  readonly waiting: T[];
  sending: number;
  maxInFlight: number;
}

/** What the worker needs of a delivery to hold it. */
export interface Holdable {
  readonly endpoint_id: string;
  readonly max_in_flight: number;
}

/**
 * The deliveries one worker has leased, by endpoint: those being sent (at most the
 * endpoint's `maxInFlight`) and those waiting for a slot, in the order they were claimed.
 */
export class HeldDeliveries<T extends Holdable> {
  private readonly lanes = new Map<string, Lane<T>>();

  /** Holds newly claimed deliveries, to be sent as their endpoint has room. */
  add(deliveries: readonly T[]): void {
    for (const delivery of deliveries) {
      const lane = this.laneOf(delivery.endpoint_id);
      lane.maxInFlight = delivery.max_in_flight; // the endpoint's latest, as of this claim
      lane.waiting.push(delivery);
    }
  }

  /** Takes every waiting delivery that a free slot of its endpoint can send now. */
  takeSendable(): T[] {
    const sendable: T[] = [];
    for (const lane of this.lanes.values()) {
      while (lane.sending < lane.maxInFlight && lane.waiting.length > 0) {
        sendable.push(lane.waiting.shift()!);
        lane.sending++;
      }
    }
    return sendable;
  }

  /**
   * A delivery taken by `takeSendable` is no longer being sent. Says whether its endpoint's
   * lane is down to what its slots hold, which is when a claim should top it up.
   */
  sent(delivery: T): { wantsMore: boolean } {
    const lane = this.laneOf(delivery.endpoint_id);
    lane.sending--;
    const held = lane.sending + lane.waiting.length;
    if (held === 0) this.lanes.delete(delivery.endpoint_id);
    return { wantsMore: held <= lane.maxInFlight };
  }

  /** Takes every delivery still waiting (the worker is stopping). */
  takeWaiting(): T[] {
    const waiting = [...this.lanes.values()].flatMap((lane) => lane.waiting.splice(0));
    for (const [id, lane] of this.lanes) if (lane.sending === 0) this.lanes.delete(id);
    return waiting;
  }

  /** How many deliveries are held per endpoint: what each endpoint's next claim subtracts from its room. */
  heldByEndpoint(): Record<string, number> {
    return Object.fromEntries([...this.lanes].map(([id, lane]) => [id, lane.sending + lane.waiting.length]));
  }

  private laneOf(endpointId: string): Lane<T> {
    let lane = this.lanes.get(endpointId);
    if (!lane) {
      lane = { waiting: [], sending: 0, maxInFlight: 1 };
      this.lanes.set(endpointId, lane);
    }
    return lane;
  }
}
