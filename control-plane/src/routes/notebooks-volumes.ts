import { Readable } from 'node:stream';
import { DeletedNotebooksQuery, NotebookId, NotebookSaveFailure } from '@meridian/protocol';
import { Hono } from 'hono';
import { AppError, notFound } from '../errors.js';
import type { AppEnv } from '../http/context.js';
import { limitedBody } from '../http/limited-body.js';
import type { AgentIdentity } from '../services/agents/authenticate.js';
import type { AgentServiceDeps } from '../services/agents/deps.js';
import {
  deletedNotebooksOf,
  type NotebookVolumeDeps,
  openNotebookVolume,
  reportNotebookSaveFailure,
  saveNotebookVolume,
} from '../services/notebooks/volumes.js';
import { requireAgent } from './agents.js';

/** The most a notebook's files may take as one tar. */
export const MAX_NOTEBOOK_VOLUME_BYTES = 2 * 1024 ** 3;

type AgentEnv = AppEnv & { Variables: AppEnv['Variables'] & { agent: AgentIdentity } };

/**
 * Agents only: a notebook's files, saved as one tar when it stops (`PUT`) and fetched when it starts
 * (`GET`, 404 while none was ever saved; `If-None-Match` with the save time the agent holds answers 304),
 * so a notebook started on another agent finds them (`If-Match` / `If-None-Match: *` make a save conditional
 * on the save stored). Streamed both ways, never held in memory. A save it gave
 * up on is reported (`POST …/volume/failure`), for the notebook's owner to read. And which
 * of the notebooks an agent ran were deleted since, so it removes what it keeps of them.
 */
export function notebookVolumeRoutes(deps: AgentServiceDeps & NotebookVolumeDeps) {
  const app = new Hono<AgentEnv>();
  const path = '/agent/v1/notebooks/:id/volume';
  app.use(path, requireAgent(deps));
  const maxBytes = deps.maxVolumeBytes ?? MAX_NOTEBOOK_VOLUME_BYTES;
  const tooLarge = () => new AppError('payload_too_large', `A notebook's files may take ${maxBytes} bytes`);
  app.put(path, async (c) => {
    const body = limitedBody(c, maxBytes, tooLarge);
    if (!body) throw new AppError('validation_failed', 'The tar of the notebook’s files is the body');
    const saved = await saveNotebookVolume(
      deps,
      c.var.agent.agentId,
      notebookId(c.req.param('id')),
      body,
      overSave(c.req.header('if-match'), c.req.header('if-none-match')),
    );
    return c.json(saved, 201);
  });
  app.get(path, async (c) => {
    const saved = await openNotebookVolume(
      deps,
      c.var.agent.agentId,
      notebookId(c.req.param('id')),
      c.req.raw.signal,
    );
    if (!saved) throw notFound('Saved notebook files');
    const etag = `"${saved.savedAt}"`;
    if (c.req.header('if-none-match') === etag) {
      saved.object.body.destroy();
      return c.body(null, 304, { etag });
    }
    return c.body(Readable.toWeb(saved.object.body) as unknown as ReadableStream<Uint8Array>, 200, {
      'content-type': 'application/x-tar',
      'content-length': String(saved.object.sizeBytes),
      etag,
    });
  });
  // It gave up saving a stopped notebook's files (they stay on its host): its owner reads why.
  const failure = '/agent/v1/notebooks/:id/volume/failure';
  app.use(failure, requireAgent(deps));
  app.post(failure, async (c) => {
    const body = NotebookSaveFailure.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success)
      throw new AppError(
        'validation_failed',
        'The body is {"cause": "storage" | "unreachable" | …, "attempts": n}',
      );
    await reportNotebookSaveFailure(deps.db, c.var.agent.agentId, notebookId(c.req.param('id')), body.data);
    return c.body(null, 204);
  });
  // Which of the notebooks whose files it keeps were deleted, so it removes them (they stopped there: no
  // desired state of its names them any more).
  app.use('/agent/v1/notebooks/deleted', requireAgent(deps));
  app.post('/agent/v1/notebooks/deleted', async (c) => {
    const query = DeletedNotebooksQuery.safeParse(await c.req.json().catch(() => undefined));
    if (!query.success)
      throw new AppError('validation_failed', 'The body is {"notebookIds": [up to 500 notebook ids]}');
    const deleted = await deletedNotebooksOf(deps.db, c.var.agent.agentId, query.data.notebookIds);
    return c.json({ deleted }, 200);
  });
  return app;
}

/**
 * A save's condition: `If-Match: "<savedAt>"` only over that save, `If-None-Match: *` only while none is
 * stored (409 otherwise: the agent's copy was made before another agent's save). Neither: unconditional.
 */
function overSave(ifMatch?: string, ifNoneMatch?: string): { savedAt: number } | 'none' | undefined {
  if (ifNoneMatch === '*') return 'none';
  if (ifMatch === undefined) return undefined;
  const savedAt = /^"(\d{1,15})"$/.exec(ifMatch)?.[1];
  if (!savedAt) throw new AppError('validation_failed', 'If-Match is the ETag of a save: "<savedAt>"');
  return { savedAt: Number(savedAt) };
}

function notebookId(raw: string): string {
  if (!NotebookId.safeParse(raw).success) throw new AppError('validation_failed', 'Not a notebook id');
  return raw;
}
