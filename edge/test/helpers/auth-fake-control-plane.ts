import type {
  ApiKeyRateLimit,
  ApiKeyResolution,
  OrgStatus,
  SessionStatus,
  UsageBatch,
} from '@meridian/protocol';
import { Hono } from 'hono';
import type { JWK } from 'jose';
import { vi } from 'vitest';
import { hashApiKey } from '../../src/auth/records.js';
import { REFRESH_HEADER } from '../../src/control-plane.js';

/**
 * A fake of the control plane's /internal routes and JWKS, served through a stubbed global `fetch`.
 * Why a fake: the real control plane is a Node service (libSQL, node:*) and cannot run inside workerd,
 * and the vitest pool's outbound-service hook lives in vitest.config.ts. Tests and the Worker (including
 * its Durable Objects) share one isolate in the pool, so stubbing `fetch` reaches both.
 */
export class FakeControlPlane {
  readonly keys = new Map<string, ApiKeyResolution>();
  readonly orgs = new Map<string, OrgStatus>();
  /** User sessions by id (an access token's `sid`); an id not here answers `unknown`. */
  readonly sessions = new Map<string, SessionStatus>();
  jwks: { keys: JWK[] } = { keys: [] };
  /** Batches stored, by id, each once. */
  readonly batches = new Map<string, UsageBatch>();
  /** Every batch id a send was attempted with, in order, including attempts that failed. */
  readonly usageAttempts: string[] = [];
  /** `METHOD path` of every request that reached the fake. */
  readonly requests: string[] = [];
  /** Unreachable: fetch rejects like a refused connection. */
  down = false;
  /** Stores a batch but the answer never arrives (the edge sees a network error). */
  loseUsageAcks = false;
  /** Delay before answering key resolutions, to let concurrent misses pile up. */
  resolveDelayMs = 0;

  private readonly app = new Hono()
    .post('/internal/v1/api-keys/resolve', async (c) => {
      const { hash } = await c.req.json<{ hash: string }>();
      if (this.resolveDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.resolveDelayMs));
      return c.json(this.keys.get(hash) ?? { status: 'unknown' });
    })
    .get('/internal/v1/orgs/:id', (c) => {
      const org = this.orgs.get(c.req.param('id'));
      return org
        ? c.json(org)
        : c.json({ error: { code: 'not_found', message: 'no org', requestId: 'x' } }, 404);
    })
    .get('/internal/v1/sessions/:sid', (c) =>
      c.json(this.sessions.get(c.req.param('sid')) ?? { status: 'unknown' }),
    )
    .get('/.well-known/jwks.json', (c) => c.json(this.jwks))
    .post('/internal/v1/usage', async (c) => {
      const batch = await c.req.json<UsageBatch>();
      this.usageAttempts.push(batch.batchId);
      const accepted = !this.batches.has(batch.batchId);
      if (accepted) this.batches.set(batch.batchId, batch);
      return c.json({ batchId: batch.batchId, accepted });
    });

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    // Calls no request waited for (refresh ahead) are told apart, so tests can count the ones that did.
    const background = request.headers.get(REFRESH_HEADER) === 'background' ? ' [background]' : '';
    this.requests.push(`${request.method} ${url.pathname}${background}`);
    if (this.down) throw new TypeError('fetch failed: connection refused');
    const response = await this.app.fetch(request);
    if (this.loseUsageAcks && url.pathname === '/internal/v1/usage') {
      throw new TypeError('fetch failed: connection reset');
    }
    return response;
  };

  /** Replaces the global fetch with this fake until `vi.unstubAllGlobals()`. */
  install(): this {
    vi.stubGlobal('fetch', this.fetch);
    return this;
  }

  count(request: string): number {
    return this.requests.filter((r) => r === request).length;
  }

  addOrg(orgId: string, status: Partial<OrgStatus> = {}): OrgStatus {
    const org: OrgStatus = {
      orgId,
      plan: 'pro',
      monthlyCallQuota: 100_000,
      suspended: false,
      suspendedReason: null,
      ...status,
    };
    this.orgs.set(orgId, org);
    return org;
  }

  /** Registers an active key (and its org, if new); returns the plaintext key. */
  async addKey(options: {
    orgId: string;
    keyId?: string;
    scopes?: string[];
    rateLimits?: ApiKeyRateLimit[];
    expiresAt?: string | null;
  }): Promise<string> {
    const key = newApiKey();
    if (!this.orgs.has(options.orgId)) this.addOrg(options.orgId);
    this.keys.set(await hashApiKey(key), {
      status: 'active',
      keyId: options.keyId ?? `key_${crypto.randomUUID().slice(0, 8)}`,
      orgId: options.orgId,
      environment: 'test',
      scopes: options.scopes ?? ['predict'],
      rateLimits: options.rateLimits ?? [],
      expiresAt: options.expiresAt ?? null,
    });
    return key;
  }

  /** Registers an active session for `userId` in `orgId` (and the org, if new); returns its id. */
  addSession(userId: string, orgId: string, sessionId = uniqueId('rtf')): string {
    if (!this.orgs.has(orgId)) this.addOrg(orgId);
    this.sessions.set(sessionId, { status: 'active', sessionId, userId, orgId });
    return sessionId;
  }

  /** Ends a session as logout, a password change or a removal does on the control plane. */
  revokeSession(sessionId: string): void {
    this.sessions.set(sessionId, { status: 'revoked' });
  }

  async setKeyStatus(key: string, status: 'revoked' | 'expired' | 'unknown'): Promise<void> {
    this.keys.set(await hashApiKey(key), { status });
  }
}

/** A fresh key in the control plane's format: `mk_test_` and 32 random bytes, base64url. */
export function newApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `mk_test_${base64.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')}`;
}

/** A unique id with a type prefix, so tests sharing the isolate's caches never meet. */
export function uniqueId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}
