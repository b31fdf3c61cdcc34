/**
 * A place in the global order of events. Two parts because PostgreSQL orders by
 * (commit transaction, sequence) and EventStoreDB by (commit, prepare) position:
 * compare `commit` first, then `sequence`.
 */
export interface GlobalPosition {
  readonly commit: bigint;
  readonly sequence: bigint;
}

export const START: GlobalPosition = Object.freeze({ commit: 0n, sequence: 0n });

export function comparePositions(a: GlobalPosition, b: GlobalPosition): -1 | 0 | 1 {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.sequence !== b.sequence) return a.sequence < b.sequence ? -1 : 1;
  return 0;
}

export function isAtOrAfter(position: GlobalPosition, target: GlobalPosition): boolean {
  return comparePositions(position, target) >= 0;
}

/** A compact text form for APIs and logs: `commit.sequence`. */
export function formatPosition(position: GlobalPosition): string {
  return `${position.commit}.${position.sequence}`;
}

/** The position `formatPosition` wrote (`commit.sequence`), or undefined for any other text. */
export function parsePosition(text: string): GlobalPosition | undefined {
  const match = /^(\d{1,19})\.(\d{1,19})$/.exec(text);
  if (!match) return undefined;
  const [commit, sequence] = [BigInt(match[1]!), BigInt(match[2]!)];
  return commit < 2n ** 63n && sequence < 2n ** 63n ? { commit, sequence } : undefined;
}
