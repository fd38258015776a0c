import { createHmac } from 'node:crypto';
import { agentKeyDerivationText, type DataPlaneKey } from '@meridian/protocol';

/**
 * One agent's data-plane key of a generation, derived from the platform key as the edge derives it
 * (protocol `agentKeyDerivationText`): an agent holds only its own, so it can sign for no other agent.
 */
export function agentDataPlaneKey(platformKey: string, agentId: string, generation: number): DataPlaneKey {
  const key = createHmac('sha256', platformKey)
    .update(agentKeyDerivationText(agentId, generation))
    .digest('hex');
  return { generation, key };
}
