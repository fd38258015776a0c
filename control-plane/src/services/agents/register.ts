import { type AgentRegistration, newId, type RegistrationResponse } from '@meridian/protocol';
import { and, eq, gt, isNull } from 'drizzle-orm';
import { agents, bootstrapTokens } from '../../db/schema.js';
import { unauthenticated } from '../../errors.js';
import { agentDataPlaneKey } from '../../lib/data-plane-keys.js';
import { randomSecret, sha256Hex } from '../../lib/secrets.js';
import type { AgentServiceDeps } from './deps.js';

export const AGENT_CREDENTIAL_PREFIX = 'mac_';

/**
 * Spends a bootstrap token and registers the host as a new agent. Unknown, used and expired tokens all
 * answer the same 401, so the answer tells nothing about which tokens exist.
 */
export async function registerAgent(
  deps: AgentServiceDeps,
  input: AgentRegistration,
  now = new Date(),
): Promise<RegistrationResponse> {
  const agentId = newId('agent');
  const credential = `${AGENT_CREDENTIAL_PREFIX}${randomSecret(32)}`;
  await deps.db.transaction(async (tx) => {
    // A conditional update claims the token: of two registrations racing on one token, one changes a row.
    const claimed = await tx
      .update(bootstrapTokens)
      .set({ usedAt: now, usedByAgent: agentId })
      .where(
        and(
          eq(bootstrapTokens.tokenHash, sha256Hex(input.bootstrapToken)),
          isNull(bootstrapTokens.usedAt),
          gt(bootstrapTokens.expiresAt, now),
        ),
      );
    if (claimed.rowsAffected !== 1) throw unauthenticated('The bootstrap token is unknown, used or expired');
    await tx.insert(agents).values({
      id: agentId,
      credentialHash: sha256Hex(credential),
      hostname: input.hostname,
      agentVersion: input.agentVersion,
      dataPlaneUrl: input.dataPlaneUrl,
      runtimes: [...new Set(input.runtimes)],
      inventory: input.inventory,
      lastHeartbeatAt: now,
    });
  });
  return {
    agentId,
    credential,
    heartbeatIntervalSeconds: deps.heartbeatIntervalSeconds,
    dataPlaneKey: agentDataPlaneKey(deps.dataPlaneSigningKey, agentId, 1),
  };
}
