import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting Subledger reads from its environment, validated once at start.
 * This is the only module that reads `process.env`; everything else is handed a `Config`.
 * docs/configuration.md's table mirrors this schema: keep them in step.
 */
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();

const environmentSchema = z.object({
  SUBLEDGER_ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  // 0: any free port, chosen as it listens (the address is in the start-up log).
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  // At least 3: the database signals hold one for LISTEN, and a projection batch holds one
  // while it reads events on another.
  DATABASE_POOL_SIZE: positiveInt.min(3).max(200).default(10),
  SUBLEDGER_DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_POSTGRES_PORT: port.default(54329),
  CATALOG_PATH: z.string().min(1).default('catalog/sample-fitness.json'),
  CLIENT_CONFIG_SEED_PATH: z.string().min(1).default('catalog/sample-client-config.json'),
  CONTENT_SEED_PATH: z.string().min(1).default('catalog/sample-content.json'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  PROJECTION_BATCH_SIZE: positiveInt.max(10_000).default(500),
  PROJECTION_IDLE_POLL_MS: positiveInt.max(60_000).default(200),
  INTAKE_WORKER: z.enum(['on', 'off']).default('on'),
  INTAKE_VISIBILITY_TIMEOUT_SECONDS: positiveInt.max(43_200).default(60),
  INTAKE_IDLE_POLL_MS: positiveInt.max(60_000).default(200),
  INTAKE_QUEUE: z.enum(['postgres', 'sqs']).default('postgres'),
  // Apple retries a notification for about 6.5 days (1, 12, 24, 48 and 72 hours apart).
  INTAKE_RETENTION_DAYS: positiveInt.max(3650).default(14),
  EVENT_STORE: z.enum(['postgres', 'kurrentdb']).default('postgres'),
  KURRENTDB_URL: z
    .string()
    .regex(
      /^(kurrentdb|kdb|esdb|eventstore)(\+discover)?:\/\/\S+$/,
      'must be a kurrentdb:// (or esdb://) connection string',
    )
    .optional(),
  INTAKE_SQS_QUEUE_URL: z.url().optional(),
  INTAKE_SQS_DEAD_LETTER_QUEUE_URL: z.url().optional(),
  /** An SQS-compatible server instead of AWS's (an emulator, say); credentials then come from the usual AWS variables. */
  SQS_ENDPOINT: z.url().optional(),
  AWS_REGION: z.string().min(1).optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_DEV_TOKENS: z.enum(['on', 'off']).default('off'),
  API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  CUSTOMER_CACHE_ENTRIES: z.coerce.number().int().min(0).default(100_000),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(1200),
  TRUST_PROXY: z.string().default('').transform(trustProxyOf),
  REQUEST_TIMEOUT_SECONDS: positiveInt.max(600).default(30),
  OPERATOR_ROUTES: z.enum(['protected', 'public']).default('protected'),
  TOKEN_ISSUER: z.string().min(1).default('subledger'),
  TOKEN_AUDIENCE: z.string().min(1).default('subledger-content'),
  EDGE_PROOF_KEYS: z.string().default('').transform(edgeProofKeysOf),
  EDGE_DIRECT_TOKENS: z.enum(['on', 'off']).default('on'),
  CONTENT_SHARED_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(31_536_000).default(60),
  TOKEN_MAX_LIFETIME_SECONDS: positiveInt.min(60).max(86_400).default(900),
  TOKEN_KEY_ROTATION_DAYS: positiveInt.max(365).default(7),
  TOKEN_JWKS_CACHE_SECONDS: positiveInt.max(86_400).default(300),
  APPLE_TRUSTED_ROOTS: z.string().min(1).default('certs/apple/AppleRootCA-G3.cer'),
  APPLE_ONLINE_CHECKS: z.enum(['on', 'off']).optional(),
  APPLE_ACCEPT_SANDBOX: z.enum(['on', 'off']).default('on'),
  APPLE_SHARED_SECRET: z.string().optional(),
  APPLE_VERIFY_RECEIPT_URL: z.url().default('https://buy.itunes.apple.com/verifyReceipt'),
  APPLE_VERIFY_RECEIPT_SANDBOX_URL: z.url().default('https://sandbox.itunes.apple.com/verifyReceipt'),
  APPLE_API_KEY_FILE: z.string().optional(),
  APPLE_API_KEY_ID: z.string().optional(),
  APPLE_API_ISSUER_ID: z.string().optional(),
  APPLE_API_URL: z.url().default('https://api.storekit.apple.com'),
  APPLE_API_SANDBOX_URL: z.url().default('https://api.storekit-sandbox.apple.com'),
  APPLE_RECHECK_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(900),
  GOOGLE_PUSH_AUDIENCE: z.string().min(1).optional(),
  GOOGLE_PUSH_SERVICE_ACCOUNT: z.email().optional(),
  GOOGLE_OIDC_JWKS_URL: z.url().default('https://www.googleapis.com/oauth2/v3/certs'),
  GOOGLE_SERVICE_ACCOUNT_KEY_FILE: z.string().optional(),
  GOOGLE_PLAY_API_URL: z.url().default('https://androidpublisher.googleapis.com/'),
  GOOGLE_VOIDED_POLL_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(3600),
  WEBHOOK_DELIVERY: z.enum(['on', 'off']).default('on'),
  WEBHOOK_RETRY_HOURS: z.coerce.number().min(0).max(168).default(24),
  WEBHOOK_CONNECT_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(60).default(5),
  WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(120).default(15),
  WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(['on', 'off']).default('off'),
  WEBHOOK_POLL_MS: positiveInt.max(60_000).default(200),
  NODE_ENV: z.string().optional(),
});

/**
 * What an instance does. `api` accepts store webhooks and serves apps and support staff;
 * `worker` processes what was accepted (the intake queue, projections, outgoing webhooks,
 * the stores' polls) and serves only health and metrics; `all` does both, in one process.
 */
export type Role = 'api' | 'worker' | 'all';

export interface Config {
  readonly role: Role;
  readonly http: {
    readonly port: number;
    readonly host: string;
    readonly rateLimitPerMinute: number;
    /** false: the client's address is the socket's; true: any proxy's X-Forwarded-For; else these proxies' only. */
    readonly trustProxy: boolean | readonly string[];
    readonly requestTimeoutMs: number;
    readonly operatorRoutes: 'protected' | 'public';
  };
  /**
   * Edges that verify scoped tokens and prove the scope to the origin (src/auth/edge-proof.ts):
   * the keys they sign with (two during a rotation), and whether a caller may still send
   * its token here directly.
   */
  /** Content behind an edge: who may prove a scope, whether tokens still come directly, how long shared caches keep answers. */
  readonly edge: {
    readonly proofKeys: readonly { id: string; secret: string }[];
    readonly directTokens: boolean;
    readonly sharedMaxAgeSeconds: number;
  };
  /** Either an external PostgreSQL server, or the embedded one kept in `dataDir`. */
  readonly database:
    | { readonly kind: 'external'; readonly url: string; readonly poolSize: number }
    | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number; readonly poolSize: number };
  readonly catalogPath: string;
  /** Client configurations to create at start when missing (`{ "<clientId>": document }`). */
  readonly clientConfigSeedPath: string;
  /** Content items to create at start when missing. */
  readonly contentSeedPath: string;
  readonly logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  /** JSON lines (for log collectors), or `pretty`: readable lines for a terminal. */
  readonly logFormat: z.infer<typeof environmentSchema>['LOG_FORMAT'];
  readonly projections: { readonly batchSize: number; readonly idlePollMs: number };
  /** The app's identity provider, whose access tokens authenticate app users; absent: API keys only. */
  readonly identityProvider?: { readonly issuer: string; readonly jwksUrl: string; readonly audience?: string };
  /** Trust app-user tokens minted by `subledger dev-token` (never in production). */
  readonly devTokens: boolean;
  /** How long a verified API key is remembered; a revocation takes up to this long to reach every instance. */
  readonly apiKeyCacheMs: number;
  /** Customers each instance keeps in memory (0: none, every read asks the database). */
  readonly customerCacheEntries: number;
  /** Scoped access tokens: who issues them, how long they live, how often the signing key changes. */
  readonly tokens: {
    readonly issuer: string;
    readonly audience: string;
    readonly maxLifetimeMs: number;
    readonly keyRotationMs: number;
    /** The JWKS's max-age; each signing key is published two of these before it signs. */
    readonly jwksCacheSeconds: number;
  };
  /** Outgoing webhooks to the app's own backends. */
  readonly webhooks: {
    /** Whether this instance sends deliveries (several may: each takes its own). */
    readonly delivery: boolean;
    /** How long after it was scheduled a failing delivery is still retried; then it is dead. */
    readonly retryHorizonMs: number;
    readonly connectTimeoutMs: number;
    readonly requestTimeoutMs: number;
    /** Private, loopback and link-local receivers: for local development and tests only. */
    readonly allowPrivateUrls: boolean;
    readonly idlePollMs: number;
  };
  /**
   * Where the ledger's events are kept: PostgreSQL (the default, in the database above), or
   * KurrentDB. The read models, the archive and the queue stay in PostgreSQL either way.
   */
  readonly eventStore: { readonly kind: 'postgres' } | { readonly kind: 'kurrentdb'; readonly url: string };
  readonly intake: {
    /**
     * Whether this instance processes accepted notifications. Off for an instance
     * that only accepts webhooks while others (sharing the database) process them.
     */
    readonly worker: boolean;
    /** How long a received message stays hidden before another worker may retry it (a crashed worker's). */
    readonly visibilityTimeoutMs: number;
    /** How often an idle worker looks at the PostgreSQL queue when nothing woke it. */
    readonly idlePollMs: number;
    /**
     * How long the intake queue remembers a notification (the PostgreSQL queue's processed
     * messages, the SQS queue's record of those sent), to answer a store's redelivery as a
     * duplicate. Later, a redelivery is processed again (see IntakeQueue.forgetProcessed).
     */
    readonly retentionMs: number;
    /** Where accepted notifications wait: PostgreSQL (the default), or an SQS FIFO queue. */
    readonly queue:
      | { readonly kind: 'postgres' }
      | {
          readonly kind: 'sqs';
          readonly queueUrl: string;
          readonly deadLetterQueueUrl?: string;
          readonly endpoint?: string;
          readonly region?: string;
        };
  };
  readonly apple: {
    /** DER or PEM files of the roots App Store signatures must chain to. */
    readonly trustedRoots: readonly string[];
    /** OCSP revocation checks of Apple's certificates (needs the network). */
    readonly onlineChecks: boolean;
    /** Sandbox purchases grant entitlements (App Review buys in the sandbox against production builds). */
    readonly acceptSandbox: boolean;
    /** Legacy receipts (verifyReceipt): the app-specific shared secret and Apple's endpoints. */
    readonly receipts: {
      readonly sharedSecret?: string;
      readonly urls: { readonly production: string; readonly sandbox: string };
    };
    /** App Store Server API access, for reconciliation; absent when no key is configured. */
    readonly serverApi?: {
      readonly keyFile: string;
      readonly keyId: string;
      readonly issuerId: string;
      readonly urls: { readonly Production: string; readonly Sandbox: string };
    };
    /** How often subscriptions that lapsed without a renewal notification are re-checked with Apple; 0 = never. */
    readonly recheckIntervalMs: number;
  };
  readonly google: {
    /** Who may push real-time developer notifications: absent, the Google webhook refuses every push. */
    readonly push?: { readonly audience: string; readonly serviceAccountEmail: string; readonly jwksUrl: string };
    /** Play Developer API access (a service account key file); absent, notifications wait in the queue. */
    readonly api?: { readonly keyFile: string; readonly rootUrl: string };
    /** How often voided purchases are listed (voidedpurchases.list), with `api`; 0 = never. */
    readonly voidedPollIntervalMs: number;
  };
}

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** Reads and validates the environment. Throws a ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = environmentSchema.safeParse(withoutEmptyValues(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  if (e.AUTH_DEV_TOKENS === 'on' && e.NODE_ENV === 'production') {
    throw new ConfigError(['AUTH_DEV_TOKENS: development tokens are refused when NODE_ENV=production']);
  }
  if (Boolean(e.AUTH_ISSUER) !== Boolean(e.AUTH_JWKS_URL)) {
    throw new ConfigError(['AUTH_ISSUER and AUTH_JWKS_URL: set both (the app identity provider) or neither']);
  }
  const apiKey = [e.APPLE_API_KEY_FILE, e.APPLE_API_KEY_ID, e.APPLE_API_ISSUER_ID];
  if (apiKey.some(Boolean) && !apiKey.every(Boolean)) {
    throw new ConfigError([
      'APPLE_API_KEY_FILE, APPLE_API_KEY_ID and APPLE_API_ISSUER_ID: set all three (App Store Server API access) or none',
    ]);
  }
  if (e.EVENT_STORE === 'kurrentdb' && !e.KURRENTDB_URL) {
    throw new ConfigError(['KURRENTDB_URL: the KurrentDB server to use with EVENT_STORE=kurrentdb']);
  }
  if (e.INTAKE_QUEUE === 'sqs' && !e.INTAKE_SQS_QUEUE_URL) {
    throw new ConfigError(['INTAKE_SQS_QUEUE_URL: the FIFO queue to use with INTAKE_QUEUE=sqs']);
  }
  if (e.INTAKE_QUEUE === 'sqs' && !e.INTAKE_SQS_QUEUE_URL!.endsWith('.fifo')) {
    throw new ConfigError([
      'INTAKE_SQS_QUEUE_URL: a FIFO queue (its name ends in .fifo), for the order per subscription',
    ]);
  }
  if (Boolean(e.GOOGLE_PUSH_AUDIENCE) !== Boolean(e.GOOGLE_PUSH_SERVICE_ACCOUNT)) {
    throw new ConfigError([
      'GOOGLE_PUSH_AUDIENCE and GOOGLE_PUSH_SERVICE_ACCOUNT: set both (who may push Play notifications) or neither',
    ]);
  }
  return {
    role: e.SUBLEDGER_ROLE,
    http: {
      port: e.PORT,
      host: e.HOST,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      trustProxy: e.TRUST_PROXY,
      requestTimeoutMs: e.REQUEST_TIMEOUT_SECONDS * 1000,
      operatorRoutes: e.OPERATOR_ROUTES,
    },
    edge: {
      proofKeys: e.EDGE_PROOF_KEYS,
      directTokens: e.EDGE_DIRECT_TOKENS === 'on',
      sharedMaxAgeSeconds: e.CONTENT_SHARED_MAX_AGE_SECONDS,
    },
    database: e.DATABASE_URL
      ? { kind: 'external', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : {
          kind: 'embedded',
          dataDir: path.resolve(cwd, e.SUBLEDGER_DATA_DIR),
          port: e.EMBEDDED_POSTGRES_PORT,
          poolSize: e.DATABASE_POOL_SIZE,
        },
    catalogPath: path.resolve(cwd, e.CATALOG_PATH),
    clientConfigSeedPath: path.resolve(cwd, e.CLIENT_CONFIG_SEED_PATH),
    contentSeedPath: path.resolve(cwd, e.CONTENT_SEED_PATH),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    projections: { batchSize: e.PROJECTION_BATCH_SIZE, idlePollMs: e.PROJECTION_IDLE_POLL_MS },
    ...(e.AUTH_ISSUER &&
      e.AUTH_JWKS_URL && {
        identityProvider: {
          issuer: e.AUTH_ISSUER,
          jwksUrl: e.AUTH_JWKS_URL,
          ...(e.AUTH_AUDIENCE && { audience: e.AUTH_AUDIENCE }),
        },
      }),
    devTokens: e.AUTH_DEV_TOKENS === 'on',
    apiKeyCacheMs: e.API_KEY_CACHE_SECONDS * 1000,
    customerCacheEntries: e.CUSTOMER_CACHE_ENTRIES,
    tokens: {
      issuer: e.TOKEN_ISSUER,
      audience: e.TOKEN_AUDIENCE,
      maxLifetimeMs: e.TOKEN_MAX_LIFETIME_SECONDS * 1000,
      keyRotationMs: e.TOKEN_KEY_ROTATION_DAYS * 86_400_000,
      jwksCacheSeconds: e.TOKEN_JWKS_CACHE_SECONDS,
    },
    eventStore: e.EVENT_STORE === 'kurrentdb' ? { kind: 'kurrentdb', url: e.KURRENTDB_URL! } : { kind: 'postgres' },
    intake: {
      worker: e.INTAKE_WORKER === 'on',
      visibilityTimeoutMs: e.INTAKE_VISIBILITY_TIMEOUT_SECONDS * 1000,
      idlePollMs: e.INTAKE_IDLE_POLL_MS,
      retentionMs: e.INTAKE_RETENTION_DAYS * 86_400_000,
      queue:
        e.INTAKE_QUEUE === 'sqs'
          ? {
              kind: 'sqs',
              queueUrl: e.INTAKE_SQS_QUEUE_URL!,
              ...(e.INTAKE_SQS_DEAD_LETTER_QUEUE_URL && { deadLetterQueueUrl: e.INTAKE_SQS_DEAD_LETTER_QUEUE_URL }),
              ...(e.SQS_ENDPOINT && { endpoint: e.SQS_ENDPOINT }),
              ...(e.AWS_REGION && { region: e.AWS_REGION }),
            }
          : { kind: 'postgres' },
    },
    webhooks: {
      delivery: e.WEBHOOK_DELIVERY === 'on',
      retryHorizonMs: e.WEBHOOK_RETRY_HOURS * 3_600_000,
      connectTimeoutMs: e.WEBHOOK_CONNECT_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: e.WEBHOOK_TIMEOUT_SECONDS * 1000,
      allowPrivateUrls: e.WEBHOOK_ALLOW_PRIVATE_URLS === 'on',
      idlePollMs: e.WEBHOOK_POLL_MS,
    },
    apple: {
      trustedRoots: e.APPLE_TRUSTED_ROOTS.split(',').map((file) => path.resolve(cwd, file.trim())),
      // On in production unless turned off; off elsewhere, where the network may be closed.
      onlineChecks: (e.APPLE_ONLINE_CHECKS ?? (e.NODE_ENV === 'production' ? 'on' : 'off')) === 'on',
      acceptSandbox: e.APPLE_ACCEPT_SANDBOX === 'on',
      receipts: {
        ...(e.APPLE_SHARED_SECRET && { sharedSecret: e.APPLE_SHARED_SECRET }),
        urls: { production: e.APPLE_VERIFY_RECEIPT_URL, sandbox: e.APPLE_VERIFY_RECEIPT_SANDBOX_URL },
      },
      ...(e.APPLE_API_KEY_FILE &&
        e.APPLE_API_KEY_ID &&
        e.APPLE_API_ISSUER_ID && {
          serverApi: {
            keyFile: path.resolve(cwd, e.APPLE_API_KEY_FILE),
            keyId: e.APPLE_API_KEY_ID,
            issuerId: e.APPLE_API_ISSUER_ID,
            urls: { Production: e.APPLE_API_URL, Sandbox: e.APPLE_API_SANDBOX_URL },
          },
        }),
      recheckIntervalMs: e.APPLE_RECHECK_INTERVAL_SECONDS * 1000,
    },
    google: {
      ...(e.GOOGLE_PUSH_AUDIENCE &&
        e.GOOGLE_PUSH_SERVICE_ACCOUNT && {
          push: {
            audience: e.GOOGLE_PUSH_AUDIENCE,
            serviceAccountEmail: e.GOOGLE_PUSH_SERVICE_ACCOUNT,
            jwksUrl: e.GOOGLE_OIDC_JWKS_URL,
          },
        }),
      ...(e.GOOGLE_SERVICE_ACCOUNT_KEY_FILE && {
        api: { keyFile: path.resolve(cwd, e.GOOGLE_SERVICE_ACCOUNT_KEY_FILE), rootUrl: e.GOOGLE_PLAY_API_URL },
      }),
      voidedPollIntervalMs: e.GOOGLE_VOIDED_POLL_INTERVAL_SECONDS * 1000,
    },
  };
}

/** `PORT=` in a shell means "unset", not "the empty string". */
function withoutEmptyValues(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
}

/** `TRUST_PROXY`: empty or `false` (no proxy), `true` (whatever is in front), or addresses and CIDRs, comma-separated. */
function trustProxyOf(value: string, ctx: z.RefinementCtx): boolean | readonly string[] {
  const text = value.trim();
  if (text === '' || text === 'false') return false;
  if (text === 'true') return true;
  const proxies = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const proxy of proxies.filter((entry) => !isAddressOrCidr(entry))) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(proxy)} is not an IP address or CIDR: use true, false, or the proxies' addresses and CIDRs, comma-separated`,
    });
  }
  return proxies;
}

/** `10.0.0.1`, `::1`, or one with a prefix length in its family's range: `10.0.0.0/8`, `fd00::/8`. */
function isAddressOrCidr(text: string): boolean {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** `EDGE_PROOF_KEYS=id:secret,id2:secret2`: secrets of at least 32 characters, ids unique. */
function edgeProofKeysOf(value: string, ctx: z.RefinementCtx): { id: string; secret: string }[] {
  const keys = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      return at < 0 ? { id: '', secret: '' } : { id: entry.slice(0, at), secret: entry.slice(at + 1) };
    });
  for (const key of keys) {
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(key.id) || key.secret.length < 32) {
      ctx.addIssue({
        code: 'custom',
        message: 'each key is id:secret, the id 1-32 of A-Z a-z 0-9 . _ -, the secret 32 characters or more',
      });
    }
  }
  if (new Set(keys.map((k) => k.id)).size !== keys.length) ctx.addIssue({ code: 'custom', message: 'key ids repeat' });
  return keys;
}
