import { z } from 'zod';
import { AgentRuntime, HostInventory } from './inventory.js';
import { DataPlaneKey } from './prediction-usage.js';

/** `POST /agent/v1/register`: an agent's first call, carrying a one-time bootstrap token. */
export const AgentRegistration = z.strictObject({
  bootstrapToken: z.string().min(1).max(256),
  hostname: z.string().min(1).max(253),
  agentVersion: z.string().min(1).max(64),
  /** Where the edge reaches this agent's OIP v2 server. */
  dataPlaneUrl: z.url({ protocol: /^https?$/ }).max(2048),
  inventory: HostInventory,
  runtimes: z.array(AgentRuntime).min(1).max(3),
});
export type AgentRegistration = z.infer<typeof AgentRegistration>;

/** The answer to a registration; `credential` is shown this once and authenticates every later call. */
export const RegistrationResponse = z.object({
  agentId: z.string(),
  credential: z.string(),
  heartbeatIntervalSeconds: z.number().int().positive(),
  /**
   * This agent's own key of the signatures the edge puts on data-plane requests (the agent refuses unsigned
   * calls); never the platform's key. A rotation hands the next one over in the desired state.
   */
  dataPlaneKey: DataPlaneKey,
});
export type RegistrationResponse = z.infer<typeof RegistrationResponse>;
