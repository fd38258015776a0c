import type { Caller } from '../caller.js';
import { EdgeError } from '../errors.js';

/**
 * Refuses (403) a caller whose scopes do not allow predicting on this deployment: `predict`, `admin`,
 * `predict:<deploymentId>` or `predict:<name>` allow it.
 */
export function requirePredictScope(
  caller: Caller,
  deployment: { deploymentId: string; name: string },
): void {
  const allowed = new Set([
    'predict',
    'admin',
    `predict:${deployment.deploymentId}`,
    `predict:${deployment.name}`,
  ]);
  if (caller.scopes.some((scope) => allowed.has(scope))) return;
  throw new EdgeError(
    'forbidden',
    `This credential may not call deployment "${deployment.name}": it needs the predict or predict:${deployment.name} scope`,
  );
}
