import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonContent, newRouter } from '../http/openapi.js';
import {
  deleteArtifact,
  listArtifacts,
  readArtifact,
  uploadArtifact,
} from '../services/experiments/artifacts.js';
import type { RouteDeps } from './deps.js';
import type { ExperimentRouteDeps } from './experiments.js';
import { ArtifactPath, ArtifactSchema, page, RunIdParams } from './experiments-schemas.js';
import { decimalInt } from './schemas.js';

const PathQuery = z.object({ path: ArtifactPath });
const ListQuery = z.object({
  limit: decimalInt(1, 1000).default(100),
  cursor: z.string().max(512).optional().openapi({ description: 'The last path of the previous page' }),
  prefix: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9._/-]*$/)
    .optional(),
});
const Binary = z.string().openapi({ format: 'binary' });
const MediaType = z
  .string()
  .max(255)
  .regex(/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;\s*[\w!#$&^.+-]+=("[^"\r\n]*"|[\w!#$&^.+-]+))*$/);

/** The upload's Content-Type becomes the artifact's; none means opaque bytes. */
function contentTypeOf(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return 'application/octet-stream';
  const parsed = MediaType.safeParse(header.trim());
  if (!parsed.success) {
    throw new AppError('validation_failed', 'Content-Type is not a media type', [
      { path: 'content-type', message: 'not a media type' },
    ]);
  }
  return parsed.data;
}

function declaredLength(header: string | undefined): number | undefined {
  return header && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
}

const toWeb = (body: Readable) => Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>;

export function runArtifactRoutes({
  experiments: extra,
  ...deps
}: RouteDeps & { experiments: ExperimentRouteDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['experiments'] };
  const storeDeps = { db: deps.db, store: extra.objectStore, logger: extra.logger };
  const uploadDeps = { ...storeDeps, maxArtifactBytes: extra.maxArtifactBytes };

  const upload = createRoute({
    ...common,
    method: 'put',
    path: '/v1/runs/{id}/artifacts',
    operationId: 'uploadArtifact',
    summary: `Upload the raw body as the artifact at \`path\` (replacing one there); at most ${extra.maxArtifactBytes} bytes`,
    request: {
      params: RunIdParams,
      query: PathQuery,
      body: { required: true, content: { '*/*': { schema: Binary } } },
    },
    responses: { 200: jsonContent(ArtifactSchema, 'Stored'), ...errors(401, 403, 404) },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/runs/{id}/artifacts',
    operationId: 'listArtifacts',
    summary: "A run's artifacts, by path",
    request: { params: RunIdParams, query: ListQuery },
    responses: { 200: jsonContent(page(ArtifactSchema), 'A page'), ...errors(401, 403, 404) },
  });
  const download = createRoute({
    ...common,
    method: 'get',
    path: '/v1/runs/{id}/artifacts/content',
    operationId: 'downloadArtifact',
    summary: 'Download the artifact at `path`',
    request: { params: RunIdParams, query: PathQuery },
    responses: {
      200: {
        description: 'The bytes, with the Content-Type given at upload',
        content: { '*/*': { schema: Binary } },
      },
      ...errors(401, 403, 404),
    },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/runs/{id}/artifacts',
    operationId: 'deleteArtifact',
    summary: 'Delete the artifact at `path`',
    request: { params: RunIdParams, query: PathQuery },
    responses: { 200: jsonContent(ArtifactSchema, 'Deleted'), ...errors(401, 403, 404) },
  });

  return newRouter()
    .openapi(upload, async (c) => {
      const raw = c.req.raw.body;
      const body = raw
        ? Readable.fromWeb(raw as unknown as NodeReadableStream<Uint8Array>)
        : Readable.from([]);
      const artifact = await uploadArtifact(uploadDeps, actorOf(c), c.req.valid('param').id, {
        path: c.req.valid('query').path,
        body,
        contentType: contentTypeOf(c.req.header('content-type')),
        declaredBytes: declaredLength(c.req.header('content-length')),
      });
      return c.json(artifact, 200);
    })
    .openapi(list, async (c) =>
      c.json(await listArtifacts(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('query')), 200),
    )
    .openapi(download, async (c) => {
      const { artifact, body, sizeBytes } = await readArtifact(
        storeDeps,
        actorOf(c),
        c.req.valid('param').id,
        c.req.valid('query').path,
      );
      const fileName = artifact.path.split('/').at(-1) ?? 'artifact';
      // Artifacts are user content on the API's origin: never rendered inline, never sniffed.
      return c.body(toWeb(body), 200, {
        'content-type': artifact.contentType,
        'content-length': String(sizeBytes),
        'content-disposition': `attachment; filename="${fileName}"`,
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'cache-control': 'private, no-store',
        etag: `"${artifact.sha256}"`,
      });
    })
    .openapi(remove, async (c) => {
      const { id } = c.req.valid('param');
      return c.json(await deleteArtifact(storeDeps, actorOf(c), id, c.req.valid('query').path), 200);
    });
}
