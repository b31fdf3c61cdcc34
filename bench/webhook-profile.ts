import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

type Rule = readonly [category: string, matches: (frame: CallFrame) => boolean];
const inUrl =
  (...parts: string[]) =>
  (f: CallFrame) =>
    parts.some((p) => f.url.includes(p));

/** What the service was doing, by the innermost of its own steps on the stack. */
const STEPS: readonly Rule[] = [
  [
    'verify (Apple library: x509, chain, jsrsasign, jsonwebtoken)',
    inUrl('app-store-server-library', 'jsrsasign', 'jsonwebtoken', '/jws/', '/jwa/', 'apple-verifier.ts'),
  ],
  ['archive (source_documents INSERT)', (f) => f.url.endsWith('source-documents.ts') && f.functionName === 'keep'],
  [
    'enqueue (intake_messages INSERT)',
    (f) => f.url.endsWith('postgres-intake-queue.ts') && f.functionName === 'enqueue',
  ],
  [
    'intake worker (receive, decode, decide, ack)',
    inUrl(
      'intake-worker.ts',
      'process-notification.ts',
      'record-purchase.ts',
      'translate-notification.ts',
      '/domain/',
      'postgres-intake-queue.ts',
      'source-documents.ts',
      'command-handler.ts',
    ),
  ],
  ['event store (append, read)', inUrl('postgres-event-store.ts')],
  ['purchases projection', inUrl('/projections/')],
];
/** Otherwise, by the innermost library on the stack. */
const LIBRARIES: readonly Rule[] = [
  ['startup (module loading)', inUrl('node:internal/modules', 'node:internal/modules/typescript')],
  ['logging (pino)', inUrl('/pino/', 'sonic-boom', 'pino-std-serializers')],
  [
    'HTTP (fastify, node:http)',
    inUrl('fastify', 'fast-json-stringify', 'find-my-way', 'avvio', 'light-my-request', 'node:_http', '/api/'),
  ],
  ['PostgreSQL client (pg: socket reads, parsing)', inUrl('/pg/', 'pg-protocol', 'pg-pool', 'pg-types')],
  [
    'sockets (writes to PostgreSQL and HTTP clients)',
    inUrl('node:net', 'node:internal/stream', 'node:internal/streams'),
  ],
];

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byCategory: readonly { category: string; ms: number; share: number }[];
  readonly topSelf: readonly { frame: string; ms: number; share: number }[];
}

/** Splits a V8 CPU profile's busy time by what the service was doing, and its hottest functions. */
export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const categoryOf = new Map<number, string>();
  const classify = (leaf: number): string => {
    const known = categoryOf.get(leaf);
    if (known) return known;
    const stack: CallFrame[] = [];
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!.callFrame);
    const name = stack[0]!.functionName;
    const category =
      name === '(idle)'
        ? 'idle'
        : name === '(garbage collector)'
          ? 'garbage collection'
          : (firstMatch(stack, STEPS) ?? firstMatch(stack, LIBRARIES) ?? 'other');
    categoryOf.set(leaf, category);
    return category;
  };

  const categories = new Map<string, number>();
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const category = classify(id);
    categories.set(category, (categories.get(category) ?? 0) + ms);
    if (category === 'idle') return;
    const f = byId.get(id)!.callFrame;
    const frame = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/src\//, 'src/')}`;
    self.set(frame, (self.get(frame) ?? 0) + ms);
  });
  const idleMs = categories.get('idle') ?? 0;
  categories.delete('idle');
  const busyMs = [...categories.values()].reduce((a, b) => a + b, 0);
  const ranked = <K extends string>(entries: Map<string, number>, key: K, limit: number) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(
        ([name, ms]) =>
          ({ [key]: name, ms, share: ms / busyMs }) as { [P in K]: string } & { ms: number; share: number },
      );
  return { busyMs, idleMs, byCategory: ranked(categories, 'category', 20), topSelf: ranked(self, 'frame', 15) };
}

function firstMatch(stack: readonly CallFrame[], rules: readonly Rule[]): string | undefined {
  for (const frame of stack) for (const [category, matches] of rules) if (matches(frame)) return category;
  return undefined;
}

// `node bench/webhook-profile.ts <file.cpuprofile>...`: the summary of profiles written with PROFILE_DIR.
if (import.meta.main) {
  for (const file of process.argv.slice(2)) {
    const { busyMs, idleMs, byCategory, topSelf } = summarizeProfile(file);
    const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
    console.log(`\n${file}: busy ${busyMs.toFixed(0)} ms, idle ${idleMs.toFixed(0)} ms`);
    console.table(
      byCategory.map(({ category, ms, share }) => ({ category, ms: Math.round(ms), share: percent(share) })),
    );
    console.table(topSelf.map(({ frame, ms, share }) => ({ frame, ms: Math.round(ms), share: percent(share) })));
  }
}
