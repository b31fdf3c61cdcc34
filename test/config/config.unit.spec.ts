import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('configuration', () => {
  it('names the roles an instance can have when given another', () => {
    expect(loadConfig({ SUBLEDGER_ROLE: 'worker' }).role).toBe('worker');
    expect(() => loadConfig({ SUBLEDGER_ROLE: 'both' })).toThrow(/SUBLEDGER_ROLE.*"api".*"worker".*"all"/s);
  });

  it('keeps events in KurrentDB only with a server to reach', () => {
    expect(() => loadConfig({ EVENT_STORE: 'kurrentdb' })).toThrow(/KURRENTDB_URL/);
    expect(() => loadConfig({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'http://x' })).toThrow(/kurrentdb:\/\//);
    const url = 'kurrentdb://127.0.0.1:2113?tls=false';
    expect(loadConfig({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: url }).eventStore).toEqual({ kind: 'kurrentdb', url });
  });

  it('runs on the embedded database with no configuration at all', () => {
    const config = loadConfig({}, '/srv/subledger');
    expect(config).toEqual({
      role: 'all',
      http: {
        port: 3000,
        host: '127.0.0.1',
        rateLimitPerMinute: 1200,
        trustProxy: false,
        requestTimeoutMs: 30_000,
        operatorRoutes: 'protected',
      },
      edge: { proofKeys: [], directTokens: true, sharedMaxAgeSeconds: 60 },
      database: { kind: 'embedded', dataDir: '/srv/subledger/.data', port: 54329, poolSize: 10 },
      catalogPath: path.resolve('/srv/subledger', 'catalog/sample-fitness.json'),
      clientConfigSeedPath: path.resolve('/srv/subledger', 'catalog/sample-client-config.json'),
      contentSeedPath: path.resolve('/srv/subledger', 'catalog/sample-content.json'),
      logLevel: 'info',
      logFormat: 'json',
      projections: { batchSize: 500, idlePollMs: 200 },
      devTokens: false,
      apiKeyCacheMs: 30_000,
      customerCacheEntries: 100_000,
      tokens: {
        issuer: 'subledger',
        audience: 'subledger-content',
        maxLifetimeMs: 900_000,
        keyRotationMs: 7 * 86_400_000,
        jwksCacheSeconds: 300,
      },
      eventStore: { kind: 'postgres' },
      intake: {
        worker: true,
        visibilityTimeoutMs: 60_000,
        idlePollMs: 200,
        retentionMs: 14 * 86_400_000,
        queue: { kind: 'postgres' },
      },
      webhooks: {
        delivery: true,
        retryHorizonMs: 86_400_000,
        connectTimeoutMs: 5_000,
        requestTimeoutMs: 15_000,
        allowPrivateUrls: false,
        idlePollMs: 200,
      },
      apple: {
        trustedRoots: [path.resolve('/srv/subledger', 'certs/apple/AppleRootCA-G3.cer')],
        onlineChecks: false,
        acceptSandbox: true,
        receipts: {
          urls: {
            production: 'https://buy.itunes.apple.com/verifyReceipt',
            sandbox: 'https://sandbox.itunes.apple.com/verifyReceipt',
          },
        },
        recheckIntervalMs: 900_000,
      },
      google: { voidedPollIntervalMs: 3_600_000 },
    });
  });

  it('trusts Google pushes only with both the audience and the push service account', () => {
    const push = {
      GOOGLE_PUSH_AUDIENCE: 'https://subledger.example/v1/webhooks/google',
      GOOGLE_PUSH_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com',
    };
    expect(loadConfig(push, '/x').google.push).toEqual({
      audience: 'https://subledger.example/v1/webhooks/google',
      serviceAccountEmail: 'push@p.iam.gserviceaccount.com',
      jwksUrl: 'https://www.googleapis.com/oauth2/v3/certs',
    });
    expect(() => loadConfig({ GOOGLE_PUSH_AUDIENCE: push.GOOGLE_PUSH_AUDIENCE })).toThrow(
      /GOOGLE_PUSH_SERVICE_ACCOUNT/,
    );
    expect(() => loadConfig({ ...push, GOOGLE_PUSH_SERVICE_ACCOUNT: 'not an email' })).toThrow(
      /GOOGLE_PUSH_SERVICE_ACCOUNT/,
    );
    expect(loadConfig({ GOOGLE_SERVICE_ACCOUNT_KEY_FILE: 'keys/play.json' }, '/x').google.api).toEqual({
      keyFile: '/x/keys/play.json',
      rootUrl: 'https://androidpublisher.googleapis.com/',
    });
  });

  it('polls Google for voided purchases hourly unless told otherwise, or never with 0', () => {
    expect(loadConfig({}).google.voidedPollIntervalMs).toBe(3_600_000);
    expect(loadConfig({ GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: '600' }).google.voidedPollIntervalMs).toBe(600_000);
    expect(loadConfig({ GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: '0' }).google.voidedPollIntervalMs).toBe(0);
    expect(() => loadConfig({ GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: '-1' })).toThrow(
      /GOOGLE_VOIDED_POLL_INTERVAL_SECONDS/,
    );
    expect(() => loadConfig({ GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: 'hourly' })).toThrow(
      /GOOGLE_VOIDED_POLL_INTERVAL_SECONDS/,
    );
  });

  it('reaches the App Store Server API only with a whole key: file, key id and issuer', () => {
    const key = { APPLE_API_KEY_FILE: 'keys/AuthKey.p8', APPLE_API_KEY_ID: 'ABC123', APPLE_API_ISSUER_ID: 'issuer' };
    expect(loadConfig(key, '/x').apple.serverApi).toEqual({
      keyFile: '/x/keys/AuthKey.p8',
      keyId: 'ABC123',
      issuerId: 'issuer',
      urls: { Production: 'https://api.storekit.apple.com', Sandbox: 'https://api.storekit-sandbox.apple.com' },
    });
    expect(() => loadConfig({ APPLE_API_KEY_ID: 'ABC123' })).toThrow(/set all three/);
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

  it('believes X-Forwarded-For only from the proxies TRUST_PROXY names, and refuses unknown operator access', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).http.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '::1, fd00::/8, 0.0.0.0/0' }).http.trustProxy).toEqual([
      '::1',
      'fd00::/8',
      '0.0.0.0/0',
    ]);
    for (const bad of ['yes', '10.0.0.0/33', '::/129', '10.0.0.1/', '10.0.0.0/8/8', 'proxy.internal', '127.0.0.1, 3']) {
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY: .* is not an IP address or CIDR/);
    }
    expect(loadConfig({ OPERATOR_ROUTES: 'public', REQUEST_TIMEOUT_SECONDS: '5' }).http).toMatchObject({
      operatorRoutes: 'public',
      requestTimeoutMs: 5_000,
    });
    expect(() => loadConfig({ OPERATOR_ROUTES: 'open' })).toThrow(/OPERATOR_ROUTES/);
  });

  it('takes edge proof keys as id:secret pairs, two during a rotation, and refuses weak or repeated ones', () => {
    const secret = 's'.repeat(32);
    const edge = loadConfig({
      EDGE_PROOF_KEYS: `k1:${secret}, k2:${secret}x`,
      EDGE_DIRECT_TOKENS: 'off',
      CONTENT_SHARED_MAX_AGE_SECONDS: '86400',
    }).edge;
    expect(edge).toEqual({
      proofKeys: [
        { id: 'k1', secret },
        { id: 'k2', secret: `${secret}x` },
      ],
      directTokens: false,
      sharedMaxAgeSeconds: 86_400,
    });
    for (const bad of ['k1:short', `:${secret}`, `k1:${secret},k1:${secret}`, secret]) {
      expect(() => loadConfig({ EDGE_PROOF_KEYS: bad })).toThrow(/EDGE_PROOF_KEYS/);
    }
  });

  it('queues on SQS only with a FIFO queue named, and on PostgreSQL otherwise', () => {
    const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/subledger-intake.fifo';
    expect(
      loadConfig({ INTAKE_QUEUE: 'sqs', INTAKE_SQS_QUEUE_URL: url, AWS_REGION: 'eu-west-1' }).intake.queue,
    ).toEqual({
      kind: 'sqs',
      queueUrl: url,
      region: 'eu-west-1',
    });
    expect(() => loadConfig({ INTAKE_QUEUE: 'sqs' })).toThrow(/INTAKE_SQS_QUEUE_URL/);
    expect(() => loadConfig({ INTAKE_QUEUE: 'sqs', INTAKE_SQS_QUEUE_URL: url.replace('.fifo', '') })).toThrow(
      /a FIFO queue/,
    );
    expect(() => loadConfig({ INTAKE_QUEUE: 'kafka' })).toThrow(/INTAKE_QUEUE/);
  });

  it('uses DATABASE_URL when it is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db.internal:5432/subledger', DATABASE_POOL_SIZE: '25' });
    expect(config.database).toEqual({
      kind: 'external',
      url: 'postgres://u:p@db.internal:5432/subledger',
      poolSize: 25,
    });
  });

  it('keeps processed intake messages two weeks unless told otherwise, and never less than a day', () => {
    expect(loadConfig({}).intake.retentionMs).toBe(14 * 86_400_000);
    expect(loadConfig({ INTAKE_RETENTION_DAYS: '30' }).intake.retentionMs).toBe(30 * 86_400_000);
    expect(() => loadConfig({ INTAKE_RETENTION_DAYS: '0' })).toThrow(/INTAKE_RETENTION_DAYS/);
  });

  it('takes PORT=0 as any free port, and refuses one below it', () => {
    expect(loadConfig({ PORT: '0' }).http.port).toBe(0);
    expect(() => loadConfig({ PORT: '-1' })).toThrow(/- PORT: /);
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
