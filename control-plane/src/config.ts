import { DEFAULT_NOTEBOOK_DOMAIN } from '@meridian/protocol';
import { z } from 'zod';
import { DEFAULT_NOTEBOOK_IMAGE } from './services/notebooks/deps.js';

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const COUNT_MAX = 1_000_000_000;
// A value in digits out of range is not a format mistake: its message says the range (as query params do).
const COUNT_RANGE = `a whole number from 1 to ${COUNT_MAX.toLocaleString('en-US')}`;
/** A positive whole number written in decimal digits (`0x5` or `1e3` is a mistake worth refusing). */
const count = (fallback: number) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : v),
      z
        .number({ error: 'a whole number in decimal digits' })
        .int()
        .min(1, { error: COUNT_RANGE })
        .max(COUNT_MAX, { error: COUNT_RANGE }),
    )
    .default(fallback);

/**
 * Control-plane configuration, read from the environment once in main.ts. Every field has a default that
 * runs the platform on one machine with no account anywhere.
 */
export const Config = z
  .object({
    MERIDIAN_HOST: z.string().default('127.0.0.1'),
    MERIDIAN_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    MERIDIAN_DATA_DIR: z.string().default('.data'),
    /** libsql URL; defaults to a file under the data dir. `libsql://` (Turso) in production. */
    MERIDIAN_DATABASE_URL: z.string().optional(),
    MERIDIAN_DATABASE_AUTH_TOKEN: z.string().optional(),
    MERIDIAN_PUBLIC_URL: z.string().url().optional(),
    MERIDIAN_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    MERIDIAN_ACCESS_TOKEN_TTL_SECONDS: seconds(900),
    MERIDIAN_REFRESH_TOKEN_TTL_SECONDS: seconds(30 * 24 * 3600),
    /** Bearer credential of the edge for /internal routes; generated into the data dir when unset. */
    MERIDIAN_EDGE_SERVICE_TOKEN: z.string().min(32).optional(),
    /** Bearer credential of platform operators (bootstrap tokens for agents); generated into the data dir when unset. */
    MERIDIAN_OPERATOR_TOKEN: z.string().min(32).optional(),
    /** Key the edge signs data-plane requests with, handed to agents; generated into the data dir when unset. */
    MERIDIAN_DATA_PLANE_SIGNING_KEY: z.string().min(32).optional(),
    MERIDIAN_AGENT_HEARTBEAT_SECONDS: seconds(15),
    /** An agent silent this long is lost and its work placed elsewhere; default three heartbeats. */
    MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: z.coerce.number().int().positive().optional(),
    /** How often the scheduler converges when nothing kicks it. */
    MERIDIAN_SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(2000),
    /** The autoscaler's stable window (Knative's 60 s): demand averaged over it sets the replica count. */
    MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    /** The panic window (6 s): a burst needing twice the ready replicas over it scales up at once. */
    MERIDIAN_AUTOSCALER_PANIC_WINDOW_SECONDS: z.coerce.number().int().min(1).max(600).default(6),
    /** How long a replaced replica keeps serving after it leaves the routing snapshot. */
    MERIDIAN_ROLLOUT_RETIRE_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
    /** How long a removed replica's lines stay readable from its agent (set the agents' window as long). */
    MERIDIAN_ENDED_REPLICA_LOGS_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3600),
    /** How often a followed log stream sends a heartbeat comment while quiet (proxies drop silent streams). */
    MERIDIAN_LOG_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(300).default(15),
    /** Added to a notebook's idle timeout before it is culled: Jupyter records activity coarsely. */
    MERIDIAN_NOTEBOOK_IDLE_SLACK_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    /**
     * The image of a notebook created without one; a platform image (every org may run it). Default: the
     * image scripts/build-notebook-image.sh builds on each docker host from Debian's packages.
     */
    MERIDIAN_NOTEBOOK_IMAGE: z
      .string()
      .max(512)
      .regex(/^[a-z0-9][A-Za-z0-9._/:@-]*$/, 'an image reference such as ghcr.io/acme/notebook:1')
      .default(DEFAULT_NOTEBOOK_IMAGE),
    /** Where users reach the edge; notebooks' access URLs start with it. */
    MERIDIAN_EDGE_PUBLIC_URL: z.string().url().default('http://127.0.0.1:8787'),
    /** Notebooks open at `nb-<id>.<this domain>`, an origin each; the edge's NOTEBOOK_DOMAIN must equal it. */
    MERIDIAN_NOTEBOOK_DOMAIN: z
      .string()
      .regex(
        /^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/,
        'a domain such as notebooks.example.com',
      )
      .default(DEFAULT_NOTEBOOK_DOMAIN),
    /** Workers KV that mirrors the routing snapshot for the edge: all three, or none (the edge then pulls). */
    MERIDIAN_ROUTING_KV_ACCOUNT_ID: z.string().min(1).optional(),
    MERIDIAN_ROUTING_KV_NAMESPACE_ID: z.string().min(1).optional(),
    MERIDIAN_ROUTING_KV_API_TOKEN: z.string().min(1).optional(),
    /** Trust X-Forwarded-For for the client IP: only behind a proxy that sets it. */
    MERIDIAN_TRUST_PROXY: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    MERIDIAN_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Largest model file a version may hold (direct or multipart upload); over it the upload gets 413. */
    MERIDIAN_MAX_MODEL_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(2 * 1024 ** 3),
    /** Largest file POST /v1/files takes (batch inputs); over it the upload gets 413 while it streams. */
    MERIDIAN_MAX_FILE_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(2 * 1024 ** 3),
    /** Days a stored file (batch input, output or error file) is kept. */
    MERIDIAN_FILE_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(30),
    /** Lines of one batch job in flight at once, unless the job asks otherwise. */
    MERIDIAN_BATCH_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
    /** Object storage: files under the data dir unless a bucket is set, then S3 (AWS, R2, MinIO, Swift). */
    MERIDIAN_S3_ENDPOINT: z.string().url().optional(),
    MERIDIAN_S3_REGION: z.string().default('us-east-1'),
    MERIDIAN_S3_BUCKET: z.string().min(1).optional(),
    MERIDIAN_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
    MERIDIAN_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    MERIDIAN_S3_FORCE_PATH_STYLE: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    /**
     * Key that seals the access-token signing key in the database (32 bytes: base64, base64url or hex).
     * Unset: the file MERIDIAN_SIGNING_KEY_KEK_FILE names, else <data dir>/secrets/signing-key.kek, generated once.
     */
    MERIDIAN_SIGNING_KEY_KEK: z.string().min(32).optional(),
    MERIDIAN_SIGNING_KEY_KEK_FILE: z.string().min(1).optional(),
    /** Earlier KEKs, comma-separated: they only open, so starting with them re-seals every key (KEK rotation). */
    MERIDIAN_SIGNING_KEY_KEK_PREVIOUS: z.string().optional(),
    /** Login throttling: failures count in windows of this many seconds. */
    MERIDIAN_AUTH_WINDOW_SECONDS: count(900),
    /** Attempts one address may make on one account per window before it is locked out of that account. */
    MERIDIAN_AUTH_PAIR_MAX_FAILURES: count(5),
    /** Failures on one account, from any address, before each further attempt waits an exponential delay. */
    MERIDIAN_AUTH_ACCOUNT_FREE_FAILURES: count(10),
    /** Failures from one address, on any account, before each further attempt waits an exponential delay. */
    MERIDIAN_AUTH_CLIENT_FREE_FAILURES: count(30),
    /** First delay; it doubles with each further failure up to the maximum. */
    MERIDIAN_AUTH_BASE_DELAY_MS: count(1_000),
    MERIDIAN_AUTH_MAX_DELAY_MS: count(60_000),
    /** Registrations one address may make per registration window. */
    MERIDIAN_AUTH_REGISTRATIONS_PER_ADDRESS: count(10),
    MERIDIAN_AUTH_REGISTRATION_WINDOW_SECONDS: count(3600),
    /** scrypt computations at once (each takes a libuv thread and 32 MiB). */
    MERIDIAN_PASSWORD_CONCURRENCY: count(2),
    /** Logins (and password changes) that may wait for scrypt; past it they get 429 at once. */
    MERIDIAN_PASSWORD_MAX_QUEUED_CHECKS: count(64),
    /** Registrations that may wait for scrypt, apart from logins; past it they get 429 at once. */
    MERIDIAN_PASSWORD_MAX_QUEUED_HASHES: count(16),
    /** HMAC key of the filesystem store's signed URLs; generated into the data dir when unset. */
    MERIDIAN_STORAGE_SIGNING_SECRET: z.string().min(32).optional(),
    /** Stripe secret (or restricted) key. Unset: usage is not pushed to Stripe; everything else works. */
    MERIDIAN_STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_(test|live)_\w+$/, 'a Stripe secret key: sk_test_…, sk_live_…, rk_test_… or rk_live_…')
      .optional(),
    /** A Stripe-compatible API instead of api.stripe.com (scheme, host and port only), e.g. a local stand-in. */
    MERIDIAN_STRIPE_API_URL: z
      .string()
      .url()
      .refine((u) => ['http:', 'https:'].includes(new URL(u).protocol) && new URL(u).pathname === '/', {
        message: 'an http(s) URL without a path',
      })
      .optional(),
    /** The signing secret (whsec_…) of the webhook endpoint; unset: POST /v1/billing/webhooks/stripe answers 503. */
    MERIDIAN_STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
    /** How often usage is pushed to Stripe. */
    MERIDIAN_STRIPE_PUSH_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    /** How long after a UTC hour ends before its usage is pushed, so late reports land in the first push. */
    MERIDIAN_STRIPE_WINDOW_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
    /**
     * Also push the hour still running, as it accrues (deltas under new identifiers, by the same rounding
     * rule), so Stripe shows spend within a push interval instead of after the hour closes.
     */
    MERIDIAN_STRIPE_PUSH_OPEN_WINDOWS: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    /** Per-request timeout of Stripe calls; a meter event that times out is resent with its identifier. */
    MERIDIAN_STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(30_000),
  })
  .superRefine((env, ctx) => {
    const keyId = env.MERIDIAN_S3_ACCESS_KEY_ID !== undefined;
    const secret = env.MERIDIAN_S3_SECRET_ACCESS_KEY !== undefined;
    if (keyId !== secret) {
      ctx.addIssue({
        code: 'custom',
        path: [keyId ? 'MERIDIAN_S3_SECRET_ACCESS_KEY' : 'MERIDIAN_S3_ACCESS_KEY_ID'],
        message: 'set both S3 credentials or neither',
      });
    }
    const kv = [
      env.MERIDIAN_ROUTING_KV_ACCOUNT_ID,
      env.MERIDIAN_ROUTING_KV_NAMESPACE_ID,
      env.MERIDIAN_ROUTING_KV_API_TOKEN,
    ];
    if (kv.some((v) => v !== undefined) && !kv.every((v) => v !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'set MERIDIAN_ROUTING_KV_ACCOUNT_ID, _NAMESPACE_ID and _API_TOKEN together, or none of them',
        path: ['MERIDIAN_ROUTING_KV_ACCOUNT_ID'],
      });
    }
    if (env.MERIDIAN_STRIPE_API_URL && !env.MERIDIAN_STRIPE_SECRET_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_STRIPE_SECRET_KEY'],
        message: 'required when MERIDIAN_STRIPE_API_URL is set',
      });
    }
    if (!env.MERIDIAN_S3_BUCKET && (env.MERIDIAN_S3_ENDPOINT || keyId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['MERIDIAN_S3_BUCKET'],
        message: 'required when S3 is configured',
      });
    }
  })
  .transform((env) => ({
    host: env.MERIDIAN_HOST,
    port: env.MERIDIAN_PORT,
    dataDir: env.MERIDIAN_DATA_DIR,
    databaseUrl: env.MERIDIAN_DATABASE_URL ?? `file:${env.MERIDIAN_DATA_DIR}/control-plane.db`,
    databaseAuthToken: env.MERIDIAN_DATABASE_AUTH_TOKEN,
    publicUrl: env.MERIDIAN_PUBLIC_URL ?? `http://${env.MERIDIAN_HOST}:${env.MERIDIAN_PORT}`,
    logLevel: env.MERIDIAN_LOG_LEVEL,
    accessTokenTtlSeconds: env.MERIDIAN_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: env.MERIDIAN_REFRESH_TOKEN_TTL_SECONDS,
    edgeServiceToken: env.MERIDIAN_EDGE_SERVICE_TOKEN,
    operatorToken: env.MERIDIAN_OPERATOR_TOKEN,
    dataPlaneSigningKey: env.MERIDIAN_DATA_PLANE_SIGNING_KEY,
    agentHeartbeatIntervalSeconds: env.MERIDIAN_AGENT_HEARTBEAT_SECONDS,
    logHeartbeatMs: env.MERIDIAN_LOG_HEARTBEAT_SECONDS * 1000,
    scheduler: {
      intervalMs: env.MERIDIAN_SCHEDULER_INTERVAL_MS,
      scaleWindows: {
        stableMs: env.MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS * 1000,
        // Never longer than the stable window it is a shortcut of.
        panicMs:
          Math.min(
            env.MERIDIAN_AUTOSCALER_PANIC_WINDOW_SECONDS,
            env.MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS,
          ) * 1000,
        panicThreshold: 2,
      },
      heartbeatTimeoutMs:
        (env.MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS ?? 3 * env.MERIDIAN_AGENT_HEARTBEAT_SECONDS) * 1000,
      retireAfterMs: env.MERIDIAN_ROLLOUT_RETIRE_SECONDS * 1000,
      idleSlackMs: env.MERIDIAN_NOTEBOOK_IDLE_SLACK_SECONDS * 1000,
      endedReplicaLogsMs: env.MERIDIAN_ENDED_REPLICA_LOGS_SECONDS * 1000,
    },
    edgePublicUrl: env.MERIDIAN_EDGE_PUBLIC_URL,
    notebookDomain: env.MERIDIAN_NOTEBOOK_DOMAIN,
    notebookImage: env.MERIDIAN_NOTEBOOK_IMAGE,
    routingKv:
      env.MERIDIAN_ROUTING_KV_ACCOUNT_ID &&
      env.MERIDIAN_ROUTING_KV_NAMESPACE_ID &&
      env.MERIDIAN_ROUTING_KV_API_TOKEN
        ? {
            accountId: env.MERIDIAN_ROUTING_KV_ACCOUNT_ID,
            namespaceId: env.MERIDIAN_ROUTING_KV_NAMESPACE_ID,
            apiToken: env.MERIDIAN_ROUTING_KV_API_TOKEN,
          }
        : undefined,
    trustProxy: env.MERIDIAN_TRUST_PROXY,
    maxBodyBytes: env.MERIDIAN_MAX_BODY_BYTES,
    maxModelBytes: env.MERIDIAN_MAX_MODEL_BYTES,
    batch: {
      maxFileBytes: env.MERIDIAN_MAX_FILE_BYTES,
      fileRetentionSeconds: Math.round(env.MERIDIAN_FILE_RETENTION_DAYS * 86_400),
      concurrency: env.MERIDIAN_BATCH_CONCURRENCY,
    },
    s3: env.MERIDIAN_S3_BUCKET
      ? {
          endpoint: env.MERIDIAN_S3_ENDPOINT,
          region: env.MERIDIAN_S3_REGION,
          bucket: env.MERIDIAN_S3_BUCKET,
          // Without keys the SDK's default chain applies (instance role, AWS_* env, profile).
          credentials:
            env.MERIDIAN_S3_ACCESS_KEY_ID && env.MERIDIAN_S3_SECRET_ACCESS_KEY
              ? {
                  accessKeyId: env.MERIDIAN_S3_ACCESS_KEY_ID,
                  secretAccessKey: env.MERIDIAN_S3_SECRET_ACCESS_KEY,
                }
              : undefined,
          forcePathStyle: env.MERIDIAN_S3_FORCE_PATH_STYLE,
        }
      : undefined,
    storageSigningSecret: env.MERIDIAN_STORAGE_SIGNING_SECRET,
    signingKeyKek: env.MERIDIAN_SIGNING_KEY_KEK,
    signingKeyKekFile: env.MERIDIAN_SIGNING_KEY_KEK_FILE,
    signingKeyKekPrevious: (env.MERIDIAN_SIGNING_KEY_KEK_PREVIOUS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k.length > 0),
    throttle: {
      windowMs: env.MERIDIAN_AUTH_WINDOW_SECONDS * 1000,
      pairMaxFailures: env.MERIDIAN_AUTH_PAIR_MAX_FAILURES,
      accountFreeFailures: env.MERIDIAN_AUTH_ACCOUNT_FREE_FAILURES,
      clientFreeFailures: env.MERIDIAN_AUTH_CLIENT_FREE_FAILURES,
      baseDelayMs: env.MERIDIAN_AUTH_BASE_DELAY_MS,
      maxDelayMs: env.MERIDIAN_AUTH_MAX_DELAY_MS,
      registrationsPerClient: env.MERIDIAN_AUTH_REGISTRATIONS_PER_ADDRESS,
      registrationWindowMs: env.MERIDIAN_AUTH_REGISTRATION_WINDOW_SECONDS * 1000,
    },
    passwordWork: {
      concurrency: env.MERIDIAN_PASSWORD_CONCURRENCY,
      maxQueuedChecks: env.MERIDIAN_PASSWORD_MAX_QUEUED_CHECKS,
      maxQueuedHashes: env.MERIDIAN_PASSWORD_MAX_QUEUED_HASHES,
    },
    /** Present only with a secret key: the usage push runs only then. */
    stripe: env.MERIDIAN_STRIPE_SECRET_KEY
      ? {
          secretKey: env.MERIDIAN_STRIPE_SECRET_KEY,
          apiUrl: env.MERIDIAN_STRIPE_API_URL,
          timeoutMs: env.MERIDIAN_STRIPE_TIMEOUT_MS,
          pushIntervalMs: env.MERIDIAN_STRIPE_PUSH_INTERVAL_MS,
          // A grace of minus one hour makes the running hour count as due (enqueue pushes windows before now - grace).
          windowGraceMs: env.MERIDIAN_STRIPE_PUSH_OPEN_WINDOWS
            ? -3_600_000
            : env.MERIDIAN_STRIPE_WINDOW_GRACE_SECONDS * 1000,
        }
      : undefined,
    stripeWebhookSecret: env.MERIDIAN_STRIPE_WEBHOOK_SECRET,
  }));
export type Config = z.output<typeof Config>;

/** Parses the environment; throws one readable error naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = Config.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
