import { randomUUID } from 'node:crypto';
import { afterAll, describe, it } from 'vitest';
import { KurrentDbEventStore } from '../../src/eventstore/kurrentdb/kurrentdb-event-store.ts';
import { eventStoreContract } from './event-store.contract.ts';

const url = process.env.KURRENTDB_URL;

const NOT_RUN =
  'KURRENTDB_URL is not set: the KurrentDB adapter is not exercised on this machine; ' +
  'run `docker compose up -d kurrentdb` and ' +
  '`KURRENTDB_URL=kurrentdb://127.0.0.1:2113?tls=false npx vitest run test/eventstore/kurrentdb-event-store.int.spec.ts`';

if (!url) {
  // Said twice: as a warning while the file runs, and as the skip's reason in the run's summary.
  console.warn(NOT_RUN);
  describe('EventStore contract: KurrentDB', () => {
    it('runs against a KurrentDB server', (ctx) => ctx.skip(NOT_RUN));
  });
} else {
  // A KurrentDB server cannot be emptied, and the contract starts each test with an empty
  // store: each test gets a stream prefix of its own, and its stores see only those streams.
  let prefix = '';
  const opened: KurrentDbEventStore[] = [];
  const closeAll = () => Promise.all(opened.splice(0).map((store) => store.close()));

  eventStoreContract('KurrentDB', {
    reset: async () => {
      await closeAll();
      prefix = `contract-${randomUUID().slice(0, 8)}-`;
    },
    // A client (and so a connection) per store, as separate processes would have.
    connect: () => {
      const store = new KurrentDbEventStore(url, { streamPrefix: prefix });
      opened.push(store);
      return store;
    },
  });

  afterAll(closeAll);
}
