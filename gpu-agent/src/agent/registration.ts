import { join } from 'node:path';
import { type AgentRegistration, DataPlaneKey } from '@meridian/protocol';
import { z } from 'zod';
import { type ApiClient, describeApiError, isRetryable } from './api-client.js';
import { backoffMs, sleep } from './backoff.js';
import { readJsonFile, writeJsonFile } from './json-file.js';
import type { Logger } from './logger.js';

/**
 * What registration gave this agent, kept in `<dataDir>/credential.json` (mode 0600). The data-plane key is
 * this agent's own (derived from the platform key, which no agent holds); a rotation arrives in the desired
 * state and replaces it here. A file from before per-agent keys has none: the agent refuses data-plane calls
 * until its first desired state brings one (a platform-wide key such a file still holds is dropped).
 */
export const StoredCredential = z.object({
  agentId: z.string().min(1),
  credential: z.string().min(1),
  dataPlaneKey: DataPlaneKey.optional(),
  heartbeatIntervalSeconds: z.number().int().positive(),
  /** The control plane that issued it: a credential is worthless anywhere else. */
  controlPlaneUrl: z.string(),
});
export type StoredCredential = z.infer<typeof StoredCredential>;

export const credentialPath = (dataDir: string) => join(dataDir, 'credential.json');

export async function readCredential(dataDir: string, controlPlaneUrl: string) {
  const stored = await readJsonFile(credentialPath(dataDir), StoredCredential);
  return stored?.controlPlaneUrl === controlPlaneUrl ? stored : undefined;
}

/** Stores a rotated data-plane key beside the credential, so a restart starts with it. */
export async function storeDataPlaneKey(
  dataDir: string,
  stored: StoredCredential,
  key: DataPlaneKey,
): Promise<StoredCredential> {
  const next = { ...stored, dataPlaneKey: key };
  await writeJsonFile(credentialPath(dataDir), StoredCredential.parse(next));
  return next;
}

/** Registration failed for good: no credential and no (valid) bootstrap token. */
export class RegistrationError extends Error {
  override name = 'RegistrationError';
}

export interface EnsureRegisteredOptions {
  api: ApiClient;
  dataDir: string;
  controlPlaneUrl: string;
  bootstrapToken: string | undefined;
  /** The registration body without the token, built when one is needed (inventory is measured then). */
  describeHost: () => Promise<Omit<AgentRegistration, 'bootstrapToken'>>;
  log: Logger;
  signal: AbortSignal;
}

/**
 * The agent's credential: the stored one when there is one (a restarted agent needs no new bootstrap
 * token), else it registers with the bootstrap token, retrying while the control plane cannot be reached,
 * and stores the answer before using it.
 */
export async function ensureRegistered(options: EnsureRegisteredOptions): Promise<StoredCredential> {
  const stored = await readCredential(options.dataDir, options.controlPlaneUrl);
  if (stored) {
    options.log.info('using stored agent credential', { agentId: stored.agentId });
    return stored;
  }
  if (!options.bootstrapToken) {
    throw new RegistrationError(
      `No credential in ${credentialPath(options.dataDir)} and no bootstrap token: ` +
        'issue one with scripts/issue-bootstrap-token.mjs and set MERIDIAN_AGENT_BOOTSTRAP_TOKEN',
    );
  }
  const body = { ...(await options.describeHost()), bootstrapToken: options.bootstrapToken };
  for (let attempt = 0; ; attempt++) {
    const result = await options.api.register(body);
    if (result.ok) {
      const credential = { ...result.value, controlPlaneUrl: options.controlPlaneUrl };
      await writeJsonFile(credentialPath(options.dataDir), StoredCredential.parse(credential));
      options.log.info('registered', { agentId: credential.agentId });
      return credential;
    }
    if (!isRetryable(result.error)) {
      throw new RegistrationError(`Registration refused (${describeApiError(result.error)})`);
    }
    options.log.warn('registration failed; retrying', { error: describeApiError(result.error), attempt });
    await sleep(backoffMs(attempt), options.signal);
    if (options.signal.aborted) throw new RegistrationError('stopped before registering');
  }
}
