import type { AgentStatus } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { agents } from '../../db/schema.js';
import { unauthenticated } from '../../errors.js';
import { sha256Hex } from '../../lib/secrets.js';
import { AGENT_CREDENTIAL_PREFIX } from './register.js';

/** The agent a request comes from, once its credential checks out. */
export interface AgentIdentity {
  agentId: string;
  status: AgentStatus;
}

/** Finds the agent holding `credential` (the Bearer value); anything else is a 401. */
export async function authenticateAgent(
  db: Database,
  credential: string | undefined,
): Promise<AgentIdentity> {
  if (!credential?.startsWith(AGENT_CREDENTIAL_PREFIX) || credential.length > 256) {
    throw unauthenticated('This route needs an agent credential');
  }
  const [row] = await db
    .select({ agentId: agents.id, status: agents.status })
    .from(agents)
    .where(eq(agents.credentialHash, sha256Hex(credential)));
  if (!row) throw unauthenticated('This route needs an agent credential');
  return row;
}
