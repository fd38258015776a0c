import { inArray, or, type SQL } from 'drizzle-orm';
import type { Principal } from '../../auth/principal.js';
import { batchJobs } from '../../db/schema.js';
import { forbidden } from '../../errors.js';

/**
 * Files and batch jobs feed predictions, so they take what predicting takes: any member who may write (not a
 * viewer), or an API key with `predict`, `predict:<deployment>` or `admin`. Which deployment a key may call
 * is checked when a job names one.
 */
export function requireBatchAccess(principal: Principal): void {
  if (principal.type === 'user') {
    if (principal.role !== 'viewer') return;
    throw forbidden('Viewers may not upload files or run batch jobs');
  }
  if (principal.scopes.some((s) => s === 'predict' || s === 'admin' || s.startsWith('predict:'))) return;
  throw forbidden('This API key needs the predict scope (or predict:<deployment>) for files and batch jobs');
}

/** Whether the credential may call this deployment, exactly as the edge decides (edge/src/auth/scopes.ts). */
export function mayPredict(principal: Principal, deployment: { id: string; name: string }): boolean {
  if (principal.type === 'user') return principal.role !== 'viewer';
  const allowed = new Set(['predict', 'admin', `predict:${deployment.id}`, `predict:${deployment.name}`]);
  return principal.scopes.some((s) => allowed.has(s));
}

/** Who the credential is, as the ledger names callers. */
export function callerOf(principal: Principal): { keyId: string | null; userId: string | null } {
  return principal.type === 'user'
    ? { keyId: null, userId: principal.userId }
    : { keyId: principal.keyId, userId: null };
}

/**
 * The jobs a key limited by `predict:<deployment>` scopes may see (those on its deployments: their outputs are
 * those deployments' answers), as a condition on batch_jobs; undefined: every job of the org.
 */
export function jobsVisibleTo(principal: Principal): SQL | undefined {
  if (principal.type === 'user' || principal.scopes.some((s) => s === 'predict' || s === 'admin'))
    return undefined;
  const refs = principal.scopes
    .filter((s) => s.startsWith('predict:'))
    .map((s) => s.slice('predict:'.length));
  return or(inArray(batchJobs.deploymentId, refs), inArray(batchJobs.deploymentName, refs));
}
