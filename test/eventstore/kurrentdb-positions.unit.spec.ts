import { describe, expect, it } from 'vitest';
import { satisfiesExpectedVersion } from '../../src/eventstore/event-store.ts';
import { START, comparePositions } from '../../src/eventstore/global-position.ts';
import {
  StreamNames,
  linkData,
  newest,
  parseLink,
  pinnedStreamState,
  toGlobalPosition,
  toReadPosition,
  type KurrentRecord,
} from '../../src/eventstore/kurrentdb/kurrentdb-mapping.ts';

describe('KurrentDB positions', () => {
  it('orders by commit, then prepare, as our positions order by commit, then sequence', () => {
    const earlier = toGlobalPosition({ commit: 200n, prepare: 180n });
    const later = toGlobalPosition({ commit: 200n, prepare: 190n });
    expect(earlier).toEqual({ commit: 200n, sequence: 180n });
    expect(comparePositions(earlier, later)).toBe(-1);
    expect(comparePositions(later, toGlobalPosition({ commit: 201n, prepare: 0n }))).toBe(-1);
  });

  it('reads from the start for our start, and from the same record for any other position', () => {
    expect(toReadPosition(START)).toBe('start');
    expect(toReadPosition({ commit: 512n, sequence: 480n })).toEqual({ commit: 512n, prepare: 480n });
  });

  it('finds the newest of several positions', () => {
    const positions = [
      { commit: 5n, sequence: 5n },
      { commit: 9n, sequence: 2n },
      { commit: 9n, sequence: 1n },
    ];
    expect(newest(positions)).toEqual({ commit: 9n, sequence: 2n });
  });
});

describe('KurrentDB expected versions', () => {
  it.each([
    ['any', -1, true],
    ['any', 3, true],
    ['no_stream', -1, true],
    ['no_stream', 0, false],
    ['stream_exists', -1, false],
    ['stream_exists', 0, true],
    [2, 2, true],
    [2, 1, false],
    [0, -1, false],
  ] as const)('%s against a stream at %i: %s', (expected, current, ok) => {
    expect(satisfiesExpectedVersion(expected, current)).toBe(ok);
  });

  it('pins a write to the revision read: no stream, or that revision', () => {
    expect(pinnedStreamState(-1)).toBe('no_stream');
    expect(pinnedStreamState(0)).toBe(0n);
    expect(pinnedStreamState(41)).toBe(41n);
  });
});

describe('KurrentDB links of the event id index', () => {
  it('reads back the link it writes, wherever the stream name has an @', () => {
    const data = new TextEncoder().encode(linkData(7n, 'purchase-a@b'));
    expect(parseLink(data)).toEqual({ revision: 7n, streamName: 'purchase-a@b' });
  });

  it('refuses anything that is not a link', () => {
    expect(parseLink(new TextEncoder().encode('not a link'))).toBeUndefined();
    expect(parseLink({ revision: 1 })).toBeUndefined();
  });
});

describe('KurrentDB stream names', () => {
  const record = (overrides: Partial<KurrentRecord> = {}): KurrentRecord => ({
    streamId: 'run-1-purchase-9',
    id: '0b6f3c1e-0000-4000-8000-000000000001',
    revision: 3n,
    type: 'PurchaseObserved',
    created: new Date('2026-04-01T10:00:00.000Z'),
    data: { plan: 'monthly' },
    metadata: { causationId: 'n-1' },
    isJson: true,
    position: { commit: 900n, prepare: 880n },
    ...overrides,
  });

  it('stores our stream ids under the prefix and reads them back without it', () => {
    const names = new StreamNames('run-1-');
    expect(names.stream('purchase-9')).toBe('run-1-purchase-9');
    expect(names.toRecordedEvent(record())).toEqual({
      id: '0b6f3c1e-0000-4000-8000-000000000001',
      type: 'PurchaseObserved',
      data: { plan: 'monthly' },
      metadata: { causationId: 'n-1' },
      streamId: 'purchase-9',
      streamVersion: 3,
      position: { commit: 900n, sequence: 880n },
      recordedAt: new Date('2026-04-01T10:00:00.000Z'),
    });
  });

  it('reads an event without metadata as empty metadata', () => {
    expect(new StreamNames().toRecordedEvent(record({ metadata: undefined })).metadata).toEqual({});
  });

  it('refuses a record without a position (a server older than 22.6)', () => {
    expect(() => new StreamNames().toRecordedEvent(record({ position: undefined }))).toThrow(/22\.6/);
  });

  it('keeps the event id index under the prefix, one stream per id whatever its case', () => {
    const names = new StreamNames('run-1-');
    expect(names.eventIdIndex('0B6F3C1E-0000-4000-8000-000000000001')).toBe(
      'run-1-subledger.event-id-0b6f3c1e-0000-4000-8000-000000000001',
    );
  });

  it("counts as ours only JSON events of our streams, not KurrentDB's own", () => {
    const names = new StreamNames('run-1-');
    expect(names.isOurs(record())).toBe(true);
    expect(names.isOurs(record({ streamId: 'run-2-purchase-9' }))).toBe(false);
    expect(names.isOurs(record({ type: '$>', isJson: false }))).toBe(false);
    expect(names.isOurs(record({ type: '$metadata' }))).toBe(false);
    expect(names.isOurs(record({ isJson: false }))).toBe(false);
    expect(new StreamNames().isOurs(record({ streamId: '$stats-127.0.0.1:2113', type: '$statsCollected' }))).toBe(
      false,
    );
  });
});
