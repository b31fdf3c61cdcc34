import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InMemoryEventStore } from '../../src/eventstore/in-memory/in-memory-event-store.ts';
import { eventStoreContract } from './event-store.contract.ts';

let store = new InMemoryEventStore();

eventStoreContract('in-memory', {
  reset: async () => {
    store = new InMemoryEventStore();
  },
  // One process, one store: every "writer" shares it.
  connect: () => store,
});

describe('in-memory event store', () => {
  const newEvent = () => ({ id: randomUUID(), type: 'Happened', data: {}, metadata: {} });

  it('records events at the time its clock gives', async () => {
    const at = new Date('2026-03-01T10:00:00.000Z');
    const clocked = new InMemoryEventStore({ clock: () => at });
    await clocked.append('s', [newEvent()], { expectedVersion: 'no_stream' });
    expect((await clocked.readStream('s'))[0]!.recordedAt).toEqual(at);
  });

  it('tells its listeners after each append, counts its events, and stops telling an unsubscribed one', async () => {
    const clocked = new InMemoryEventStore();
    let calls = 0;
    const unsubscribe = clocked.onAppended(() => calls++);
    await clocked.append('s', [newEvent(), newEvent()], { expectedVersion: 'no_stream' });
    expect(calls).toBe(1);
    expect(await clocked.countEvents()).toBe(2);
    unsubscribe();
    await clocked.append('s', [newEvent()], { expectedVersion: 1 });
    expect(calls).toBe(1);
    expect(await clocked.countEvents()).toBe(3);
  });
});
