import { and, asc, eq } from 'drizzle-orm';
import { memberships, users } from '../../db/schema.js';
import { notFound, unauthenticated } from '../../errors.js';
import { type AuthDeps, issueSession } from './sessions.js';

/**
 * Checks the password and starts a session in `orgId` or the user's oldest membership. The attempt is
 * counted (AuthThrottle) before the password is checked, so parallel guesses cannot pass the limit. An
 * unknown email costs the same scrypt work as a wrong password, so timing does not reveal which accounts exist.
 */
export async function login(
  deps: AuthDeps,
  input: { email: string; password: string; orgId?: string },
  clientIp: string | null,
) {
  const email = input.email.toLowerCase();
  const claim = await deps.throttle.claimLogin(email, clientIp);
  const [user] = await deps.db.select().from(users).where(eq(users.email, email));
  const ok = await deps.passwords.verify(input.password, user?.passwordHash);
  if (!user || !ok) throw unauthenticated('Invalid email or password');
  await claim.succeeded();
  const [membership] = await deps.db
    .select({ orgId: memberships.orgId })
    .from(memberships)
    .where(and(eq(memberships.userId, user.id), input.orgId ? eq(memberships.orgId, input.orgId) : undefined))
    .orderBy(asc(memberships.createdAt))
    .limit(1);
  if (!membership) throw notFound('Organisation');
  return issueSession(deps, user.id, membership.orgId);
}
