import { eq } from 'drizzle-orm';
import type { Actor } from '../../auth/principal.js';
import { users } from '../../db/schema.js';
import { forbidden, invalidField, notFound } from '../../errors.js';
import { passwordProblem } from '../../lib/password-policy.js';
import { recordAudit } from '../audit/record.js';
import { type AuthDeps, issueSession, revokeUserSessions } from './sessions.js';

/**
 * Changes the caller's password after checking the current one (counted like a login), then ends every
 * session of the user, this one included, and answers a fresh token pair for the org the caller was in.
 */
export async function changePassword(
  deps: AuthDeps,
  actor: Actor,
  input: { currentPassword: string; newPassword: string },
) {
  const { principal } = actor;
  if (principal.type !== 'user') throw forbidden('Only users have passwords');
  const [user] = await deps.db.select().from(users).where(eq(users.id, principal.userId));
  if (!user) throw notFound('User');
  const claim = await deps.throttle.claimLogin(user.email, actor.clientIp);
  if (!(await deps.passwords.verify(input.currentPassword, user.passwordHash))) {
    throw forbidden('The current password is wrong');
  }
  await claim.succeeded();
  const problem = passwordProblem(input.newPassword, user.email);
  if (problem) throw invalidField('newPassword', problem);
  const passwordHash = await deps.passwords.hash(input.newPassword);
  await deps.db.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash }).where(eq(users.id, user.id));
    await recordAudit(tx, actor, {
      orgId: principal.orgId,
      action: 'user.password_change',
      targetType: 'user',
      targetId: user.id,
      metadata: { email: user.email },
    });
  });
  await revokeUserSessions(deps, user.id, 'password_change');
  return issueSession(deps, user.id, principal.orgId);
}
