import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { LABEL_AGENT_ID } from './types.js';

const run = promisify(execFile);

/** Host interfaces of tenant networks all start with this, so one firewall rule covers every one. */
export const TENANT_BRIDGE_PREFIX = 'mrd';
const LABEL_TENANT = 'meridian.tenant';

/** Names of one tenant's network: the engine's (readable) and its host bridge's (Linux allows 15 bytes). */
export function tenantNetworkNames(agentId: string, tenant: string): { network: string; bridge: string } {
  const safe = (v: string) => v.replace(/[^a-zA-Z0-9_.-]/g, '_');
  const network = `meridian-${safe(agentId)}-${safe(tenant)}`;
  const bridge = `${TENANT_BRIDGE_PREFIX}${createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
  return { network, bridge };
}

/**
 * The tenant's internal bridge network, created on first use: containers on it reach each other and
 * nothing routed (the engine drops forwarding to other networks and out of the host), and the host
 * firewall rule (`ensureTenantFirewall`) keeps them off the host's own addresses: the agent's ports and a
 * metadata address bound on the host.
 */
export async function ensureTenantNetwork(docker: Docker, agentId: string, tenant: string): Promise<string> {
  const { network, bridge } = tenantNetworkNames(agentId, tenant);
  try {
    await docker.getNetwork(network).inspect();
    return network;
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  try {
    await docker.createNetwork({
      Name: network,
      Driver: 'bridge',
      Internal: true,
      CheckDuplicate: true,
      Options: {
        'com.docker.network.bridge.name': bridge,
        'com.docker.network.bridge.enable_icc': 'true',
      },
      Labels: { [LABEL_AGENT_ID]: agentId, [LABEL_TENANT]: tenant },
    });
  } catch (error) {
    if (statusOf(error) !== 409) throw error; // a concurrent start created it first
  }
  return network;
}

/** Removes this agent's tenant networks no container uses any more (the engine refuses busy ones). */
export async function pruneTenantNetworks(docker: Docker, agentId: string): Promise<void> {
  const networks = await docker.listNetworks({ filters: { label: [`${LABEL_AGENT_ID}=${agentId}`] } });
  for (const info of networks) {
    await docker
      .getNetwork(info.Id)
      .remove()
      .catch(() => undefined);
  }
}

const RULE = [
  'INPUT',
  '-i',
  `${TENANT_BRIDGE_PREFIX}+`,
  '-m',
  'conntrack',
  '--ctstate',
  'NEW,INVALID',
  '-j',
  'DROP',
];

/**
 * Drops every connection a tenant container opens to the host itself (replies to the agent's own
 * connections still pass: they are ESTABLISHED). Without it a container on an internal network still
 * reaches whatever listens on the host's addresses through its gateway. Idempotent; needs root.
 */
export async function ensureTenantFirewall(): Promise<void> {
  try {
    await run('iptables', ['-w', '5', '-C', ...RULE]);
    return;
  } catch {
    // not there yet
  }
  await run('iptables', ['-w', '5', '-I', ...RULE]);
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' &&
    error !== null &&
    'statusCode' in error &&
    typeof error.statusCode === 'number'
    ? error.statusCode
    : undefined;
}
