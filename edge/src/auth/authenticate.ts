import type { OrgStatus } from '@meridian/protocol';
import type { MiddlewareHandler } from 'hono';
import type { Caller, EdgeVariables } from '../caller.js';
import { ControlPlaneUnavailable } from '../control-plane.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { readCredential } from './credentials.js';
import { type Background, hashApiKey, lookUpOrgStatus, lookUpSession, resolveKeyHash } from './records.js';
import { verifyUserToken } from './user-tokens.js';

export { requirePredictScope } from './scopes.js';

type CallerKind = Caller['kind'];

/** What the control plane issues: `mk_<env>_` and 43 base64url characters; a little slack either way. */
const API_KEY_FORMAT = /^mk_(live|test)_[A-Za-z0-9_-]{16,128}$/;

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="meridian"' };

function unauthenticated(message: string): EdgeError {
  return new EdgeError('unauthenticated', message, CHALLENGE);
}

/**
 * Authenticates the request and sets `c.var.caller`: an API key (`Authorization: Bearer mk_…`) or a user's
 * access token. 401 for a missing, unknown, revoked or expired credential (a user token also for a session
 * that has ended), 402 when the caller's org is suspended, 503 when the control plane is needed and
 * unreachable with nothing cached. `allow` narrows the accepted kinds (default: both).
 *
 * `browser` also takes a user token from the `meridian_token` cookie or the `access_token` query parameter,
 * which browsers send where they cannot set a header (notebook pages, WebSocket upgrades). It defaults to
 * true only where API keys are not accepted (the notebook proxy): on prediction routes a credential that a
 * browser attaches by itself would let a cross-site form spend an org's quota, so there it is the header only.
 */
export function authenticate(options?: {
  allow?: CallerKind[];
  browser?: boolean;
}): MiddlewareHandler<{ Bindings: Env; Variables: EdgeVariables }> {
  const allow = new Set<CallerKind>(options?.allow ?? ['api_key', 'user']);
  const browser = options?.browser ?? !allow.has('api_key');
  return async (c, next) => {
    const credential = readCredential(c, browser);
    if (credential === undefined)
      throw unauthenticated('Missing credential: send Authorization: Bearer <token>');
    if (credential === 'malformed') throw unauthenticated('Malformed credential');
    if (!allow.has(credential.kind)) {
      throw unauthenticated(
        credential.kind === 'api_key'
          ? 'API keys are not accepted here'
          : 'User tokens are not accepted here',
      );
    }

    let caller: Caller;
    try {
      caller =
        credential.kind === 'api_key'
          ? await callerFromApiKey(c.env, credential.token, background(c))
          : await callerFromUserToken(c.env, credential.token, background(c));
    } catch (err) {
      if (err instanceof ControlPlaneUnavailable) {
        throw new EdgeError('unavailable', 'Cannot verify credentials right now; retry shortly', {
          'Retry-After': '5',
        });
      }
      throw err;
    }

    if (caller.org.suspended) {
      throw new EdgeError(
        'payment_required',
        `Organization ${caller.orgId} is suspended: ${caller.org.suspendedReason ?? 'see billing'}`,
      );
    }
    c.set('caller', caller);
    await next();
  };
}

/** The request's waitUntil (absent outside a Worker request, e.g. in some tests). */
function background(c: { executionCtx: ExecutionContext }): Background {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}

async function callerFromApiKey(env: Env, key: string, waitUntil: Background): Promise<Caller> {
  // Malformed keys are refused without a hash, a KV read or a control-plane call.
  if (!API_KEY_FORMAT.test(key)) throw unauthenticated('Invalid API key');
  const resolution = await resolveKeyHash(env, await hashApiKey(key), waitUntil);
  if (resolution.status === 'revoked') throw unauthenticated('API key revoked');
  if (resolution.status === 'expired') throw unauthenticated('API key expired');
  if (resolution.status !== 'active') throw unauthenticated('Invalid API key');
  // Checked here, not only by the control plane: a cached record must not outlive the key's expiry.
  if (resolution.expiresAt !== null && Date.parse(resolution.expiresAt) <= Date.now()) {
    throw unauthenticated('API key expired');
  }
  const org = await requireOrg(env, resolution.orgId, waitUntil);
  return {
    kind: 'api_key',
    orgId: resolution.orgId,
    keyId: resolution.keyId,
    userId: null,
    scopes: resolution.scopes,
    rateLimits: resolution.rateLimits,
    org,
  };
}

async function callerFromUserToken(env: Env, token: string, waitUntil: Background): Promise<Caller> {
  const claims = await verifyUserToken(env, token);
  if (!claims) throw unauthenticated('Invalid or expired access token');
  const session = await lookUpSession(env, claims.sessionId, waitUntil);
  if (session.status !== 'active' || session.userId !== claims.userId || session.orgId !== claims.orgId) {
    throw unauthenticated(
      'This login has ended (logged out, password changed or removed from the org); log in again',
    );
  }
  const org = await requireOrg(env, claims.orgId, waitUntil);
  // A member may predict on any deployment of the org; user calls count against the org's quota only.
  return {
    kind: 'user',
    orgId: claims.orgId,
    keyId: null,
    userId: claims.userId,
    scopes: ['predict'],
    rateLimits: [],
    org,
  };
}

async function requireOrg(env: Env, orgId: string, waitUntil: Background): Promise<OrgStatus> {
  const org = await lookUpOrgStatus(env, orgId, waitUntil);
  if (!org) throw unauthenticated('The credential belongs to no existing organization');
  return org;
}
