import { describe, expect, it } from 'vitest';
import { changedCustomers } from '../../src/projections/entitlements/purchases-projection.ts';

describe('the read model’s notices of changed customers', () => {
  it('name the app users of a JSON array, everyone with * or nothing, and one id otherwise', () => {
    expect(changedCustomers('["alice","bob, \\"the\\" builder"]')).toEqual(['alice', 'bob, "the" builder']);
    expect(changedCustomers('*')).toBe('*');
    expect(changedCustomers('')).toBe('*');
    // As earlier versions sent them, one id per notice, during a rolling upgrade.
    expect(changedCustomers('alice')).toEqual(['alice']);
    expect(changedCustomers('[not json')).toEqual(['[not json']);
    expect(changedCustomers('[1,2]')).toEqual(['[1,2]']);
  });
});
