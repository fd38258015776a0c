import { and, asc, eq } from 'drizzle-orm';
import { memberships, users } from '../../db/schema.js';
import { notFound, unauthenticated } from '../../errors.js';
import { hashPassword, verifyPassword } from '../../lib/password.js';
import {
  assertNotThrottled,
  clearAccountFailures,
  recordLoginFailure,
  throttleKeys,
} from './login-throttle.js';
import { type AuthDeps, issueSession } from './sessions.js';

let dummyHash: Promise<string> | undefined;

/**
 * Checks the password and starts a session in `orgId` or the user's oldest membership. An unknown email
 * costs the same scrypt work as a wrong password, so timing does not reveal which accounts exist.
 */
export async function login(
  deps: AuthDeps,
  input: { email: string; password: string; orgId?: string },
  clientIp: string | null,
) {
  const email = input.email.toLowerCase();
  const keys = throttleKeys(email, clientIp);
  const now = Date.now();
  await assertNotThrottled(deps.db, keys, now);
  const [user] = await deps.db.select().from(users).where(eq(users.email, email));
  dummyHash ??= hashPassword('not a real password', deps.scrypt);
  const ok = await verifyPassword(input.password, user?.passwordHash ?? (await dummyHash));
  if (!user || !ok) {
    await recordLoginFailure(deps.db, keys, now);
    throw unauthenticated('Invalid email or password');
  }
  await clearAccountFailures(deps.db, email);
  const [membership] = await deps.db
    .select({ orgId: memberships.orgId })
    .from(memberships)
    .where(and(eq(memberships.userId, user.id), input.orgId ? eq(memberships.orgId, input.orgId) : undefined))
    .orderBy(asc(memberships.createdAt))
    .limit(1);
  if (!membership) throw notFound('Organisation');
  return issueSession(deps, user.id, membership.orgId);
}
