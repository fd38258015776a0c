import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan } from '@meridian/protocol';
import { type AppDeps, createApp } from '../src/app.js';
import { KeySealer } from '../src/auth/key-sealing.js';
import { SigningKeyStore } from '../src/auth/signing-keys.js';
import { openDatabase } from '../src/db/client.js';
import { createLogger } from '../src/lib/logger.js';
import { randomSecret } from '../src/lib/secrets.js';
import { DesiredStateChanges } from '../src/services/agents/desired-state-changes.js';
import { addDefaultNotebookImage } from '../src/services/images/images.js';
import type { SmtpMailer } from '../src/services/notifications/email.js';
import { setOrgStanding } from '../src/services/orgs/standing.js';
import { LoadSignals } from '../src/services/scheduler/load-signals.js';
import { FsObjectStore } from '../src/storage/fs-store.js';
import type { ObjectStore } from '../src/storage/object-store.js';

/**
 * A real control plane on a real libsql file in a temp dir. scrypt runs at N=2^10 here (production: 2^15, p=3)
 * so that suites registering dozens of users stay fast; hashing itself is tested at full cost.
 */
export async function createTestApp(
  options: {
    trustProxy?: boolean;
    accessTokenTtlSeconds?: number;
    storagePublicUrl?: string;
    maxModelBytes?: number;
    /** Another store (S3 on Swift) instead of the filesystem one in the temp dir. */
    objectStore?: ObjectStore;
    /**
     * The plan of every org registered through `client.register` (a new user's personal org). Default
     * 'enterprise', which has no platform limits, so suites may create as many models as they like; tests
     * of plan limits or of the default plan pass 'free'. Orgs made otherwise (POST /v1/orgs) stay on Free.
     */
    plan?: Plan;
    /** Login and registration throttling thresholds (defaults: DEFAULT_THROTTLE). */
    throttle?: AppDeps['throttle'];
    /** Bounds of the scrypt queue (defaults: DEFAULT_PASSWORD_WORK). */
    passwordWork?: AppDeps['passwordWork'];
    /** scrypt cost; default N=2^10 (cheap), production's is DEFAULT_SCRYPT. */
    scrypt?: AppDeps['scrypt'];
    /** The default notebook image, as MERIDIAN_NOTEBOOK_IMAGE sets it (main.ts's start-up included). */
    notebookImage?: string;
    /** Where invitations are mailed (a real SmtpMailer in the SMTP tests); default none, so none are. */
    mailer?: SmtpMailer;
    /** Bounds on an org's invitations (default DEFAULT_INVITATION_LIMITS). */
    invitationLimits?: AppDeps['invitationLimits'];
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-cp-'));
  const { db, close } = await openDatabase(`file:${join(dir, 'test.db')}`);
  const accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 900;
  // The key-encryption key lives outside the database, as main.ts keeps it (environment or a 0600 file).
  const signingKeyKek = randomBytes(32);
  const signingKeys = new SigningKeyStore(db, accessTokenTtlSeconds * 1000, {
    sealer: new KeySealer(signingKeyKek),
  });
  await signingKeys.init();
  const logLines: string[] = [];
  const edgeServiceToken = randomSecret(32);
  const operatorToken = randomSecret(32);
  const dataPlaneSigningKey = randomSecret(32);
  const desiredStateChanges = new DesiredStateChanges();
  const loadSignals = new LoadSignals();
  const objectStore =
    options.objectStore ??
    new FsObjectStore(join(dir, 'objects'), {
      publicUrl: options.storagePublicUrl ?? 'http://127.0.0.1:8080',
      signingSecret: randomSecret(32),
    });
  const deps: AppDeps = {
    db,
    logger: createLogger('debug', (line) => logLines.push(line)),
    signingKeys,
    issuer: 'http://127.0.0.1:8080',
    accessTokenTtlSeconds,
    refreshTokenTtlSeconds: 3600,
    edgeServiceToken,
    operatorToken,
    dataPlaneSigningKey,
    desiredStateChanges,
    loadSignals,
    maxBodyBytes: 1024 * 1024,
    trustProxy: options.trustProxy ?? true,
    scrypt: options.scrypt ?? { N: 2 ** 10, r: 8, p: 1 },
    objectStore,
    ...(options.maxModelBytes ? { maxModelBytes: options.maxModelBytes } : {}),
    ...(options.throttle ? { throttle: options.throttle } : {}),
    ...(options.passwordWork ? { passwordWork: options.passwordWork } : {}),
    ...(options.notebookImage ? { notebookImage: options.notebookImage } : {}),
    ...(options.invitationLimits ? { invitationLimits: options.invitationLimits } : {}),
    ...(options.mailer
      ? {
          monitoring: {
            dispatch: {
              allowPrivate: false,
              timeoutMs: 5000,
              retryBaseMs: 1000,
              maxAttempts: 1,
              mailer: options.mailer,
            },
          },
        }
      : {}),
  };
  if (options.notebookImage) await addDefaultNotebookImage(db, options.notebookImage);
  const app = createApp(deps);
  const plan = options.plan ?? 'enterprise';
  const setPlan = async (orgId: string) => {
    if (plan !== 'free') await setOrgStanding(db, orgId, { plan });
  };
  const cleanup = () => {
    close();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    app,
    db,
    /** The temp dir holding the database file and the object store. */
    dir,
    signingKeys,
    signingKeyKek,
    logLines,
    edgeServiceToken,
    operatorToken,
    dataPlaneSigningKey,
    desiredStateChanges,
    /** The load reports the agent routes received, for a test scheduler's autoscaler. */
    loadSignals,
    objectStore,
    cleanup,
    client: testClient(app, { onRegistered: (session) => setPlan(session.orgId) }),
    /** A second, silent control-plane instance on the same database and store, with some deps changed. */
    anotherInstance: (overrides: Partial<AppDeps> = {}) =>
      createApp({ ...deps, logger: createLogger('silent'), ...overrides }),
  };
}

export type AppLike = { request(path: string, init?: RequestInit): Response | Promise<Response> };

/**
 * A response as tests read it. `json` is deliberately untyped: each test asserts the shape it expects, and
 * a schema per reply would restate every route's response type in the tests.
 */
export interface TestReply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response bodies (see above)
  json: any;
}

/** Reads a response once: its text, and that text parsed as JSON when it is JSON. */
export async function readReply(res: Response): Promise<TestReply> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  userId: string;
  orgId: string;
  email: string;
}

/**
 * Small typed helpers over app.request so tests read as user actions. `onRegistered` runs after each
 * registration (createTestApp sets the new org's plan with it).
 */
export function testClient(app: AppLike, hooks: { onRegistered?: (session: Session) => Promise<void> } = {}) {
  let counter = 0;
  const call = async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    return readReply(await app.request(path, { method, headers, body }));
  };

  const register = async (name = 'user'): Promise<Session> => {
    counter += 1;
    const email = `${name}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const res = await call('POST', '/v1/auth/register', {
      body: { email, password: 'correct horse battery', name },
    });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
    const session: Session = {
      accessToken: res.json.accessToken,
      refreshToken: res.json.refreshToken,
      userId: res.json.user.id,
      orgId: res.json.org.id,
      email,
    };
    await hooks.onRegistered?.(session);
    return session;
  };

  /** `owner` invites `email` to their active org with `role`; the reply (201) has the invitation and its delivery. */
  const invite = async (owner: Session, email: string, role: string) => {
    const invited = await call('POST', '/v1/org/invitations', {
      token: owner.accessToken,
      body: { email, role },
    });
    if (invited.status !== 201) throw new Error(`invite failed: ${invited.status} ${invited.text}`);
    return invited.json as { invitation: { id: string; email: string; role: string }; token?: string };
  };

  /**
   * Brings `member` into `owner`'s active org with `role` as a person does (invited, then accepting), and
   * returns the member's session in that org.
   */
  const joinOrg = async (owner: Session, member: Session, role: string): Promise<Session> => {
    // Without a mailer the answer carries the token, as the link an inviter passes on does.
    const { token } = await invite(owner, member.email, role);
    if (!token)
      throw new Error('joinOrg needs a test app without a mailer: the invitation token went by mail');
    const accepted = await call('POST', '/v1/invitations/accept', {
      token: member.accessToken,
      body: { token },
    });
    if (accepted.status !== 200) throw new Error(`accept failed: ${accepted.status} ${accepted.text}`);
    const switched = await call('POST', '/v1/auth/switch-org', {
      token: member.accessToken,
      body: { orgId: owner.orgId },
    });
    if (switched.status !== 200) throw new Error(`switch failed: ${switched.status} ${switched.text}`);
    return {
      ...member,
      accessToken: switched.json.accessToken,
      refreshToken: switched.json.refreshToken,
      orgId: owner.orgId,
    };
  };

  const createKey = async (session: Session, body: Record<string, unknown> = {}) => {
    const res = await call('POST', '/v1/api-keys', {
      token: session.accessToken,
      body: { name: 'test key', scopes: ['admin'], ...body },
    });
    if (res.status !== 201) throw new Error(`create key failed: ${res.status} ${res.text}`);
    return res.json as { id: string; secret: string };
  };

  /** What `GET /v1/audit-log` shows as the name (`metadata.name`) of each `action` entry, newest first. */
  const auditNames = async (token: string, action: string, targetId?: string): Promise<unknown[]> => {
    const res = await call('GET', `/v1/audit-log?limit=200&action=${encodeURIComponent(action)}`, { token });
    if (res.status !== 200) throw new Error(`audit log failed: ${res.status} ${res.text}`);
    const entries: { target: { id: string }; metadata: { name?: unknown } }[] = res.json.items;
    return entries
      .filter((e) => targetId === undefined || e.target.id === targetId)
      .map((e) => e.metadata.name);
  };

  return { call, register, invite, joinOrg, createKey, auditNames };
}
