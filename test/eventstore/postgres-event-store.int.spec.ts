import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { START } from '../../src/eventstore/global-position.ts';
import { SourceDocumentArchive, documentIdOf } from '../../src/eventstore/source-documents.ts';
import { signNotification } from '../../src/dev/apple/test-notifications.ts';
import { createAppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { eventStoreContract } from './event-store.contract.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

eventStoreContract('PostgreSQL', {
  reset: async () => void (await db.pool.query('TRUNCATE events')),
  connect: () => new PostgresEventStore(db.pool),
});

describe('PostgreSQL global order', () => {
  const newEvent = () => ({ id: randomUUID(), type: 'Happened', data: {}, metadata: {} });

  it('never lets a reader skip an event whose transaction commits after a later one', async () => {
    await db.pool.query('TRUNCATE events');
    const store = new PostgresEventStore(db.pool);
    await store.append('before', [newEvent()], { expectedVersion: 'no_stream' });

    // Transaction A appends first but stays open...
    const slow = await db.pool.connect();
    await slow.query('BEGIN');
    const inFlight = newEvent();
    await slow.query('SELECT * FROM append_to_stream($1, NULL, $2::jsonb)', ['slow', JSON.stringify([inFlight])]);
    // ...while B appends after it and commits.
    const committed = newEvent();
    await store.append('fast', [committed], { expectedVersion: 'no_stream' });

    // A consumer reading now must not get past A's event: B's stays hidden too.
    // (Only "before" may show: another test file's open transaction can hide even that.)
    const seenWhileOpen = await store.readAll({ after: START, limit: 100 });
    expect(seenWhileOpen.map((e) => e.streamId)).not.toContain('fast');
    expect(seenWhileOpen.map((e) => e.streamId)).not.toContain('slow');
    const checkpoint = seenWhileOpen.at(-1)?.position ?? START;

    await slow.query('COMMIT');
    slow.release();

    // From its checkpoint the consumer now gets both, A's first: nothing lost.
    const seenAfter = await eventually(
      () => store.readAll({ after: checkpoint, limit: 100 }),
      (events) => events.some((e) => e.id === committed.id),
    );
    const afterBefore = seenAfter.filter((e) => e.streamId !== 'before');
    expect(afterBefore.map((e) => e.id)).toEqual([inFlight.id, committed.id]);
  });

  it('keeps events of a rolled-back transaction out of the log', async () => {
    await db.pool.query('TRUNCATE events');
    const store = new PostgresEventStore(db.pool);
    const client = await db.pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT * FROM append_to_stream($1, NULL, $2::jsonb)', ['gone', JSON.stringify([newEvent()])]);
    await client.query('ROLLBACK');
    client.release();
    await store.append('kept', [newEvent()], { expectedVersion: 'no_stream' });
    const all = await eventually(
      () => store.readAll({ after: START, limit: 100 }),
      (events) => events.length > 0,
    );
    expect(all.map((e) => e.streamId)).toEqual(['kept']);
  });
});

describe('PostgreSQL group commit', () => {
  const newEvent = () => ({ id: randomUUID(), type: 'Happened', data: {}, metadata: {} });

  it('commits appends that arrive together in one transaction, each with its own outcome', async () => {
    await db.pool.query('TRUNCATE events');
    const store = new PostgresEventStore(db.pool);
    await store.append('taken', [newEvent()], { expectedVersion: 'no_stream' });
    const first = store.append('first', [newEvent()], { expectedVersion: 'no_stream' }); // in flight...
    const together = await Promise.allSettled([
      // ...so these wait and go as one group.
      store.append('a', [newEvent()], { expectedVersion: 'no_stream' }),
      store.append('b', [newEvent(), newEvent()], { expectedVersion: 'no_stream' }),
      store.append('taken', [newEvent()], { expectedVersion: 'no_stream' }),
      store.append('a', [newEvent()], { expectedVersion: 0 }),
    ]);
    await first;
    const [a, b, taken, aAgain] = together;
    expect(taken).toMatchObject({ status: 'rejected', reason: { name: 'WrongExpectedVersionError' } });
    const commits = [a, b, aAgain].map(
      (r) => (r as PromiseFulfilledResult<{ position: { commit: bigint } }>).value.position.commit,
    );
    expect(new Set(commits).size).toBe(1);
    expect((await store.readStream('a')).map((e) => e.streamVersion)).toEqual([0, 1]);
    expect(await store.readStream('b')).toHaveLength(2);
  });

  it('gives each append its own outcome when a race with another process breaks the shared transaction', async () => {
    await db.pool.query('TRUNCATE events');
    const store = new PostgresEventStore(db.pool);
    // Another process is writing version 0 of "contested" and has not committed yet.
    const other = await db.pool.connect();
    await other.query('BEGIN');
    await other.query('SELECT * FROM append_to_stream($1, -1, $2::jsonb)', ['contested', JSON.stringify([newEvent()])]);

    // Appends that arrive while another is being committed go together as one group;
    // the group's insert into "contested" waits...
    const first = store.append('first', [newEvent()], { expectedVersion: 'no_stream' });
    const contested = store.append('contested', [newEvent()], { expectedVersion: 'no_stream' });
    // Asserted below. On a busy machine the group may only start after the other process has
    // committed, and then this fails before the assertion is reached: not an unhandled rejection.
    contested.catch(() => {});
    const bystander = store.append('bystander', [newEvent()], { expectedVersion: 'no_stream' });
    const unrelated = store.append('unrelated', [newEvent()], { expectedVersion: 'no_stream' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // ...and fails when the other process commits. Each append then gets its own answer.
    await other.query('COMMIT');
    other.release();

    await expect(first).resolves.toMatchObject({ outcome: 'appended' });
    await expect(contested).rejects.toMatchObject({ name: 'WrongExpectedVersionError', actual: 0 });
    await expect(bystander).resolves.toMatchObject({ outcome: 'appended', streamVersion: 0 });
    await expect(unrelated).resolves.toMatchObject({ outcome: 'appended', streamVersion: 0 });
    expect(await store.readStream('contested')).toHaveLength(1);
  });
});

describe('PostgreSQL stream reads', () => {
  const newEvent = () => ({ id: randomUUID(), type: 'Happened', data: {}, metadata: {} });

  it('reads the streams asked for in the same turn in one query, each reader getting its own stream', async () => {
    await db.pool.query('TRUNCATE events');
    const setup = new PostgresEventStore(db.pool);
    await setup.append('one', [newEvent()], { expectedVersion: 'no_stream' });
    await setup.append('two', [newEvent(), newEvent()], { expectedVersion: 'no_stream' });
    // The pool, counting the statements that reach it (the store is unchanged).
    const statements: string[] = [];
    const counted = {
      query: (...args: Parameters<typeof db.pool.query>) => {
        const config = args[0] as { name?: string } | string;
        statements.push(typeof config === 'string' ? config : (config.name ?? 'unnamed'));
        return db.pool.query(...args);
      },
    } as unknown as typeof db.pool;
    const store = new PostgresEventStore(counted);
    const [one, two, none, twoAgain] = await Promise.all(
      ['one', 'two', 'none', 'two'].map((id) => store.readStream(id)),
    );
    expect(statements).toEqual(['events-read-streams']);
    expect(one!.map((e) => [e.streamId, e.streamVersion])).toEqual([['one', 0]]);
    expect(two!.map((e) => [e.streamId, e.streamVersion])).toEqual([
      ['two', 0],
      ['two', 1],
    ]);
    expect(none).toEqual([]);
    expect(twoAgain).toEqual(two);
    expect(twoAgain).not.toBe(two); // each reader may change its own array
  });

  it('fails only the reader of a stream id the database refuses, among those read together', async () => {
    const store = new PostgresEventStore(db.pool);
    const [good, bad] = await Promise.allSettled([store.readStream('two'), store.readStream('nul\u0000id')]);
    expect(good).toMatchObject({ status: 'fulfilled', value: [{ streamVersion: 0 }, { streamVersion: 1 }] });
    expect(bad).toMatchObject({ status: 'rejected' });
  });
});

describe('source document archive', () => {
  it('keeps a document verbatim, addressed by its content hash, once', async () => {
    const archive = new SourceDocumentArchive(db.pool);
    const body = '{"signedPayload":"eyJhbGciOiJFUzI1NiJ9.e30.sig"}\n';
    const ref = await archive.keep({ kind: 'apple.notification.v2', contentType: 'application/json', body });
    expect(ref).toEqual({ documentId: documentIdOf(body), kind: 'apple.notification.v2' });
    await archive.keep({ kind: 'apple.notification.v2', contentType: 'application/json', body });

    expect(await archive.find(ref.documentId)).toMatchObject({ body, kind: 'apple.notification.v2' });
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM source_documents');
    expect(rows[0].n).toBe(1);
  });

  it('keeps signed notifications with their shared header once, and gives each back byte for byte', async () => {
    const ca = await createAppleTestCa();
    const archive = new SourceDocumentArchive(db.pool);
    const notifications = await Promise.all(
      ['DID_RENEW', 'EXPIRED', 'SUBSCRIBED'].map((type) =>
        signNotification(ca.signer, { type, signedDate: Date.now() }),
      ),
    );
    // Apple's transactions carry more than our test signer's: a stored form of a few kB stays in its row too.
    notifications.push(
      await signNotification(ca.signer, {
        type: 'DID_RENEW',
        signedDate: Date.now(),
        transaction: { appAccountToken: 'x'.repeat(3_000) },
      }),
    );
    const refs = await archive.keepAll(
      notifications.map((body) => ({ kind: 'apple.notification.v2', contentType: 'application/jose', body })),
    );

    // Addressed by the document as sent, not by the form its row holds.
    expect(refs.map((r) => r.documentId)).toEqual(notifications.map(documentIdOf));
    const found = await archive.findAll(refs.map((r) => r.documentId));
    expect(refs.map((r) => found.get(r.documentId)?.body)).toEqual(notifications);
    const { rows } = await db.pool.query<{ encoding: string; stored: number; toasted: number; headers: number }>(
      `SELECT body_encoding AS encoding, max(octet_length(body))::int AS stored,
              pg_relation_size(reltoastrelid)::int AS toasted, (SELECT count(*)::int FROM jws_headers) AS headers
       FROM source_documents, pg_class
       WHERE pg_class.oid = 'source_documents'::regclass AND document_id = ANY($1::text[])
       GROUP BY body_encoding, reltoastrelid`,
      [refs.map((r) => r.documentId)],
    );
    expect(rows).toEqual([{ encoding: 'jws-shared-headers', stored: expect.any(Number), toasted: 0, headers: 1 }]);
    expect(rows[0]!.stored).toBeGreaterThan(3_000);
    expect(rows[0]!.stored).toBeLessThan(Math.min(...notifications.map((n) => n.length)) / 2);
  });

  it('restores documents whose headers it had remembered, when reading others makes it forget', async () => {
    // A JWS of its own header each (the archive checks no signature): 1,000 fill what the
    // archive remembers, and reading one more makes it start over.
    const jws = (n: number) =>
      `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: `key-${n}` })).toString('base64url')}.` +
      `${Buffer.from(JSON.stringify({ n })).toString('base64url')}.c2ln`;
    const keep = (bodies: string[]) =>
      archive.keepAll(bodies.map((body) => ({ kind: 'test.jws', contentType: 'application/jose', body })));
    const archive = new SourceDocumentArchive(db.pool);
    const first = Array.from({ length: 1_000 }, (_, n) => jws(n));
    const refs = await keep(first);
    expect((await archive.findAll(refs.map((r) => r.documentId))).size).toBe(1_000);

    const [late] = await keep([jws(1_000)]);
    const found = await archive.findAll([refs[0]!.documentId, late!.documentId]);
    expect(found.get(refs[0]!.documentId)?.body).toBe(first[0]);
    expect(found.get(late!.documentId)?.body).toBe(jws(1_000));
  });
});
