import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('configuration', () => {
  it('runs on the embedded database with no configuration at all', () => {
    const config = loadConfig({}, '/srv/subledger');
    expect(config).toEqual({
      http: { port: 3000, host: '127.0.0.1' },
      database: { kind: 'embedded', dataDir: '/srv/subledger/.data', port: 54329, poolSize: 10 },
      catalogPath: path.resolve('/srv/subledger', 'catalog/sample-fitness.json'),
      logLevel: 'info',
      projections: { batchSize: 500, idlePollMs: 200 },
      apple: { trustedRoots: [path.resolve('/srv/subledger', 'certs/apple/AppleRootCA-G3.cer')], onlineChecks: false },
    });
  });

  it('checks Apple certificates online in production unless told not to', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).apple.onlineChecks).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', APPLE_ONLINE_CHECKS: 'off' }).apple.onlineChecks).toBe(false);
    expect(loadConfig({ APPLE_ONLINE_CHECKS: 'on' }).apple.onlineChecks).toBe(true);
    expect(loadConfig({ APPLE_TRUSTED_ROOTS: 'a.cer, b.pem' }, '/x').apple.trustedRoots).toEqual([
      '/x/a.cer',
      '/x/b.pem',
    ]);
  });

  it('uses DATABASE_URL when it is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db.internal:5432/subledger', DATABASE_POOL_SIZE: '25' });
    expect(config.database).toEqual({
      kind: 'external',
      url: 'postgres://u:p@db.internal:5432/subledger',
      poolSize: 25,
    });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).http.port).toBe(3000);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['LOG_LEVEL', 'loud'],
    ['PROJECTION_BATCH_SIZE', '0'],
  ])('stops with a message naming %s when it is %j', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`- ${name}: `));
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT[\s\S]*LOG_LEVEL/);
  });
});
