import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT, shellBlocks, type DocBlock } from '../support/doc-blocks.ts';

/*
 * Every shell block in the README and the guides is run by a test, so the docs cannot
 * drift from the product; or it says in its fence why no test can run it here (a
 * deploy to a cloud, a Docker engine), and that reason is listed with the skipped tests.
 */
const blocks = shellBlocks();
const where = (block: DocBlock) => `${block.file}:${block.line}`;

/** The tests that run documentation blocks ask for them by id, as a string: sandbox.block('tour-buy'). */
const testSources = readdirSync(path.join(REPOSITORY_ROOT, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.spec.ts'))
  .map((name) => readFileSync(path.join(REPOSITORY_ROOT, 'test', name), 'utf8'))
  .join('\n');
const askedFor = (id: string) => testSources.includes(`'${id}'`);

describe('the documentation’s command blocks', () => {
  it('are found (the README alone has several)', () => {
    expect(blocks.filter((b) => b.file === 'README.md').length).toBeGreaterThan(5);
  });

  it('each either has an id a test runs, or says why none can', () => {
    const unaccounted = blocks.filter((b) => (b.id === undefined) === (b.notRun === undefined)).map(where);
    expect(unaccounted, 'a block needs exactly one of id=… or not-run="why"').toEqual([]);
    const notRunWithoutReason = blocks.filter((b) => b.notRun !== undefined && b.notRun.trim().length < 10).map(where);
    expect(notRunWithoutReason).toEqual([]);
  });

  it('have ids that are unique and each asked for by a test', () => {
    const ids = blocks.flatMap((b) => (b.id ? [b.id] : []));
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(ids.filter((id) => !askedFor(id))).toEqual([]);
  });

  for (const block of blocks.filter((b) => b.notRun !== undefined)) {
    it(`${where(block)} is not run`, (ctx) => ctx.skip(`${where(block)}: ${block.notRun}`));
  }
});
