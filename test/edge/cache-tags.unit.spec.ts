import { describe, expect, it } from 'vitest';
import { cacheTags } from '../../edge/src/edge-request.ts';

/* What a purge by tag reaches: an item's copies in every scope, or the listings. (Miniflare has no purge to run it against.) */
describe('the purge tags of a kept copy', () => {
  it('name the item, or the listings', () => {
    expect(cacheTags('/v1/content/workout-hiit-20')).toBe('subledger-content,subledger-content-workout-hiit-20');
    expect(cacheTags('/v1/content')).toBe('subledger-content,subledger-content-list');
    expect(cacheTags('/v1/content/')).toBe('subledger-content,subledger-content-list');
  });
});
