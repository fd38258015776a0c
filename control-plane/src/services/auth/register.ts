import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { memberships, orgs, users } from '../../db/schema.js';
import { violatesUnique } from '../../db/unique-violation.js';
import { conflict, invalidField } from '../../errors.js';
import { passwordProblem } from '../../lib/password-policy.js';
import { recordAudit } from '../audit/record.js';
import { type AuthDeps, issueSession } from './sessions.js';

const emailTaken = () => conflict('An account with this email already exists');

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
}

/** Creates the user, a personal org they own, and a first session. */
export async function register(
  deps: AuthDeps,
  input: RegisterInput,
  ctx: { requestId: string; clientIp: string | null },
) {
  const email = input.email.toLowerCase();
  const problem = passwordProblem(input.password, email);
  if (problem) throw invalidField('password', problem);
  // Counted before any scrypt work, so a flood from one address costs a row update each, not a hash.
  await deps.throttle.claimRegistration(ctx.clientIp);
  const [existing] = await deps.db.select({ id: users.id }).from(users).where(eq(users.email, email));
  if (existing) throw emailTaken();
  const passwordHash = await deps.passwords.hash(input.password);
  const user = { id: newId('user'), email, name: input.name, passwordHash };
  const org = { id: newId('org'), name: `${input.name}'s workspace`, personal: true };
  const registration = deps.db.transaction(async (tx) => {
    await tx.insert(users).values(user);
    await tx.insert(orgs).values(org);
    await tx
      .insert(memberships)
      .values({ id: newId('membership'), orgId: org.id, userId: user.id, role: 'owner' });
    const actor = {
      ...ctx,
      principal: {
        type: 'user' as const,
        userId: user.id,
        orgId: org.id,
        role: 'owner' as const,
        sessionId: '',
      },
    };
    await recordAudit(tx, actor, {
      orgId: org.id,
      action: 'user.register',
      targetType: 'user',
      targetId: user.id,
      metadata: { email },
    });
  });
  // The check above reads before this writes: of two registrations racing for one email, one loses here.
  await registration.catch((err: unknown) => {
    throw violatesUnique(err, 'users.email') ? emailTaken() : err;
  });
  const session = await issueSession(deps, user.id, org.id);
  return { user: { id: user.id, email, name: user.name }, org: { id: org.id, name: org.name }, ...session };
}
