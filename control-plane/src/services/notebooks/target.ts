import type { NotebookTarget } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { notebooks } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { Reader } from '../models/deps.js';

/**
 * Where the edge proxies a notebook and whose it is, across all orgs: the edge checks the caller against
 * `orgId` and `ownerId` itself. `endpoint` is what the agent last reported, null while not running.
 */
export async function getNotebookTarget(db: Reader, notebookId: string): Promise<NotebookTarget> {
  const [row] = await db
    .select({
      notebookId: notebooks.id,
      name: notebooks.name,
      orgId: notebooks.orgId,
      ownerId: notebooks.ownerId,
      status: notebooks.status,
      endpoint: notebooks.endpoint,
      token: notebooks.token,
    })
    .from(notebooks)
    .where(eq(notebooks.id, notebookId));
  if (!row) throw notFound('Notebook');
  return row;
}
