import type { Reader } from './deps.js';

/**
 * Whether a deployment serves this model version, which makes it undeletable (409). Deployments do not
 * exist yet, so nothing is deployed; when they land this becomes one query over their version references.
 */
export async function isVersionDeployed(_db: Reader, _versionId: string): Promise<boolean> {
  return false;
}
