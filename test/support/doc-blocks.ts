import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The command blocks of the README and the guides in `docs/`, as a reader sees them.
 *
 * Every shell block says in its fence what happens to it: `sh id=tour-buy` is run by a
 * test that asks for it by that id, and `sh not-run="needs a Docker engine"` says why no
 * test can run it here. GitHub shows neither: it reads only the first word of a fence.
 */
export interface DocBlock {
  /** Relative to the repository, e.g. `docs/app-store.md`. */
  readonly file: string;
  /** Line of the opening fence, from 1. */
  readonly line: number;
  readonly lang: string;
  readonly id?: string;
  readonly notRun?: string;
  readonly code: string;
}

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHELLS = new Set(['sh', 'bash', 'shell', 'console']);

/** README.md and every Markdown file under docs/. */
export function documentationFiles(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  return ['README.md', ...docs.sort()];
}

export function blocksOf(file: string): DocBlock[] {
  const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang, info] = open as unknown as [string, string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.trimStart().startsWith(fence); j++) {
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!);
    }
    const id = /(?:^|\s)id=(\S+)/.exec(info)?.[1];
    const notRun = /(?:^|\s)not-run="([^"]*)"/.exec(info)?.[1];
    blocks.push({
      file,
      line: i + 1,
      lang,
      ...(id && { id }),
      ...(notRun !== undefined && { notRun }),
      code: body.join('\n'),
    });
    i = j;
  }
  return blocks;
}

export const isShell = (block: DocBlock) => SHELLS.has(block.lang);

/** Every shell block of the documentation. */
export function shellBlocks(): DocBlock[] {
  return documentationFiles().flatMap(blocksOf).filter(isShell);
}

/** The block a test runs, by its id: the test fails when the docs lose it. */
export function docBlock(id: string): DocBlock {
  const found = shellBlocks().filter((block) => block.id === id);
  if (found.length !== 1) throw new Error(`${found.length} documentation blocks have id=${id}`);
  return found[0]!;
}

export const REPOSITORY_ROOT = ROOT;
