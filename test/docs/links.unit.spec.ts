import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentationFiles, REPOSITORY_ROOT } from '../support/doc-blocks.ts';

/* Every link between the README and the guides reaches a file, and a heading in it. */

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');

function withoutCode(text: string): string {
  return text.replace(/^\s*(`{3,})[^\n]*\n[\s\S]*?^\s*\1\s*$/gm, '');
}

function anchorsOf(file: string): Set<string> {
  const text = withoutCode(readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8'));
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
}

describe('links in the documentation', () => {
  it('reach a file of the repository and a heading in it', () => {
    const broken: string[] = [];
    for (const file of documentationFiles()) {
      const text = withoutCode(readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8'));
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // another site: not checked here (no network)
        const [relative, anchor] = target!.split('#') as [string, string | undefined];
        const linked = relative === '' ? file : path.normalize(path.join(path.dirname(file), relative));
        if (!existsSync(path.join(REPOSITORY_ROOT, linked))) broken.push(`${file}: ${target} (no such file)`);
        else if (anchor && linked.endsWith('.md') && !anchorsOf(linked).has(anchor)) {
          broken.push(`${file}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
