import { notebookAccessUrl } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Principal } from '../../auth/principal.js';
import { notebooks } from '../../db/schema.js';
import { forbidden, notFound } from '../../errors.js';
import type { Reader } from '../models/deps.js';

export type NotebookRow = typeof notebooks.$inferSelect;
type UserPrincipal = Extract<Principal, { type: 'user' }>;

/**
 * Notebooks belong to users and show their owner the server's token, so only user credentials reach them;
 * checked before any lookup, so a key learns nothing of which notebooks exist.
 */
export function requireUser(principal: Principal): UserPrincipal {
  if (principal.type !== 'user') {
    throw forbidden('Notebooks belong to a user: call with a user access token, not an API key');
  }
  return principal;
}

/** The caller as a user allowed `permission` on notebooks. */
export function notebookCaller(principal: Principal, permission: 'notebooks:read' | 'notebooks:write') {
  const user = requireUser(principal);
  requirePermission(user, permission);
  return user;
}

/** The notebook `id` of the caller's org; another org's notebook is as missing as a deleted one. */
export async function findNotebook(db: Reader, orgId: string, id: string): Promise<NotebookRow> {
  const [row] = await db
    .select()
    .from(notebooks)
    .where(and(eq(notebooks.orgId, orgId), eq(notebooks.id, id)));
  if (!row) throw notFound('Notebook');
  return row;
}

/**
 * Who may do what to a notebook: its owner anything; owners and admins of the org may also stop or delete
 * anyone's, to free GPUs, but never start someone else's (it would run, and bill, as that user).
 */
export function assertMayControl(user: UserPrincipal, row: NotebookRow, action: 'start' | 'stop' | 'delete') {
  if (row.ownerId === user.userId) return;
  if (action !== 'start' && (user.role === 'owner' || user.role === 'admin')) return;
  throw forbidden(
    action === 'start'
      ? 'Only the notebook’s owner may start it'
      : `Only the notebook’s owner or an org owner or admin may ${action} it`,
  );
}

/** A notebook as `viewer` sees it: the token and the URLs only when it is their own. */
export function presentNotebook(
  row: NotebookRow,
  viewer: UserPrincipal,
  urls: { edgePublicUrl: string; notebookDomain: string },
) {
  const own = row.ownerId === viewer.userId;
  return {
    id: row.id,
    name: row.name,
    ownerId: row.ownerId,
    gpuType: row.gpuType,
    gpuCount: row.gpuCount,
    image: row.image,
    idleTimeoutSeconds: row.idleTimeoutSeconds,
    desired: row.desired,
    status: row.status,
    statusReason: row.statusReason ?? defaultReason(row),
    lastActivityAt: row.lastActivityAt?.toISOString() ?? null,
    token: own ? row.token : null,
    accessUrl: own ? notebookAccessUrl(urls.edgePublicUrl, urls.notebookDomain, row.id) : null,
    endpoint: own ? row.endpoint : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** What each step means to the owner, where the scheduler and agent recorded no reason of their own. */
function defaultReason(row: NotebookRow): string {
  const gpus = row.gpuType === 'cpu' ? 'CPU' : `${row.gpuCount} × ${row.gpuType} GPU`;
  switch (row.status) {
    case 'pending':
      return row.desired === 'running'
        ? `waiting for a host with room for it (${gpus})`
        : 'asked to stop; nothing runs';
    case 'starting':
      return 'placed on a host: restoring its files and starting Jupyter';
    case 'running':
      return `Jupyter is serving at its access URL; stopped after ${row.idleTimeoutSeconds} s without activity`;
    case 'stopping':
      return 'stopping: saving its files';
    case 'stopped':
      return row.desired === 'running'
        ? 'asked to start: waiting for the scheduler'
        : 'stopped as asked; its files are kept for the next start';
    case 'failed':
      return 'failed without a reason recorded; stop and start it again';
  }
}
