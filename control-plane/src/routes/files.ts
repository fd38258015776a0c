import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createRoute, z } from '@hono/zod-openapi';
import { FILE_PURPOSES } from '../db/schema.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonContent, newRouter } from '../http/openapi.js';
import type { FileDeps } from '../services/files/deps.js';
import {
  createFileDownloadUrl,
  deleteFile,
  getFile,
  listFiles,
  readFileContent,
  uploadFile,
} from '../services/files/files.js';
import type { RouteDeps } from './deps.js';
import { FileName } from './models-schemas.js';
import { Cursor, decimalInt, IdParam, Limit, pageOf } from './schemas.js';

export const FileSchema = z
  .object({
    id: z.string(),
    object: z.literal('file'),
    purpose: z.enum(FILE_PURPOSES),
    filename: z.string(),
    bytes: z.number().int(),
    sha256: z.string().nullable(),
    createdAt: z.string(),
    expiresAt: z.string().openapi({ description: 'When the file is deleted (retention)' }),
  })
  .openapi('File');
export const FileDownloadUrlSchema = z
  .object({ url: z.string(), expiresAt: z.string() })
  .openapi('FileDownloadUrl');
const FileParams = z.object({ id: IdParam('file') });
const MAX_URL_SECONDS = 24 * 3600;

/** Files: JSONL inputs of batch jobs, and the output and error files jobs write. */
export function fileRoutes({
  fileDeps,
  inUse,
  ...deps
}: RouteDeps & { fileDeps: FileDeps; inUse: (fileId: string) => Promise<boolean> }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['files'] };
  const upload = createRoute({
    ...common,
    method: 'post',
    path: '/v1/files',
    operationId: 'uploadFile',
    summary: 'Upload a JSONL file for batch jobs: the raw file as the body, streamed to storage',
    description:
      'One request per line (`custom_id`, `method`, `url`, `body`), as in OpenAI’s Batch API. The body ' +
      'streams to object storage; past the configured limit (2 GiB by default) the upload stops with 413.',
    request: {
      query: z.object({
        purpose: z.enum(['batch']).default('batch'),
        filename: FileName.openapi({ example: 'inputs.jsonl' }),
      }),
      body: {
        required: true,
        content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
      },
    },
    responses: { 201: jsonContent(FileSchema, 'Stored'), ...errors(401, 403) },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/files',
    operationId: 'listFiles',
    summary: 'Files of the organisation, newest first',
    request: { query: z.object({ limit: Limit, cursor: Cursor, purpose: z.enum(FILE_PURPOSES).optional() }) },
    responses: { 200: jsonContent(pageOf(FileSchema), 'Files'), ...errors(401, 403) },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/files/{id}',
    operationId: 'getFile',
    summary: 'One file',
    request: { params: FileParams },
    responses: { 200: jsonContent(FileSchema, 'The file'), ...errors(401, 403, 404) },
  });
  const content = createRoute({
    ...common,
    method: 'get',
    path: '/v1/files/{id}/content',
    operationId: 'getFileContent',
    summary: 'The file’s bytes',
    request: { params: FileParams },
    responses: {
      200: {
        description: 'The file (JSONL, sent as application/jsonl)',
        content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } },
      },
      ...errors(401, 403, 404),
    },
  });
  const downloadUrl = createRoute({
    ...common,
    method: 'get',
    path: '/v1/files/{id}/download-url',
    operationId: 'getFileDownloadUrl',
    summary: 'An expiring URL that downloads the file with no other credential',
    request: {
      params: FileParams,
      query: z.object({
        expiresIn: decimalInt(1, MAX_URL_SECONDS)
          .default(3600)
          .openapi({ description: 'Seconds the URL stays valid (at most a day)' }),
      }),
    },
    responses: { 200: jsonContent(FileDownloadUrlSchema, 'Signed URL'), ...errors(401, 403, 404) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/files/{id}',
    operationId: 'deleteFile',
    summary: 'Delete a file; refused while a running job reads it',
    request: { params: FileParams },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404, 409) },
  });

  return newRouter()
    .openapi(upload, async (c) => {
      const { filename, purpose } = c.req.valid('query');
      const body = requestBody(c.env, c.req.raw);
      try {
        const file = await uploadFile(
          fileDeps,
          actorOf(c),
          { fileName: filename, purpose },
          body,
          declaredSize(c.req.header('content-length')),
        );
        return c.json(file, 201);
      } catch (err) {
        // Refused before the whole file arrived: answer, then close the connection rather than read the rest.
        if (!body.readableEnded) c.header('connection', 'close');
        throw err;
      }
    })
    .openapi(list, async (c) => c.json(await listFiles(fileDeps, actorOf(c), c.req.valid('query')), 200))
    .openapi(get, async (c) => c.json(await getFile(fileDeps, actorOf(c), c.req.valid('param').id), 200))
    .openapi(content, async (c) => {
      const file = await readFileContent(fileDeps, actorOf(c), c.req.valid('param').id);
      return c.body(Readable.toWeb(file.body) as unknown as ReadableStream<Uint8Array>, 200, {
        'content-type': 'application/jsonl',
        'content-length': String(file.sizeBytes),
        'content-disposition': `attachment; filename="${file.fileName}"`,
      });
    })
    .openapi(downloadUrl, async (c) =>
      c.json(
        await createFileDownloadUrl(
          fileDeps,
          actorOf(c),
          c.req.valid('param').id,
          c.req.valid('query').expiresIn,
        ),
        200,
      ),
    )
    .openapi(remove, async (c) => {
      await deleteFile(fileDeps, actorOf(c), c.req.valid('param').id, inUse);
      return c.body(null, 204);
    });
}

/** The request body as a Node stream: node-server's IncomingMessage itself when there is one. */
function requestBody(env: unknown, request: Request): Readable {
  const incoming = typeof env === 'object' && env !== null && 'incoming' in env ? env.incoming : undefined;
  if (incoming instanceof Readable && !incoming.readableDidRead) return incoming;
  const raw = request.body;
  return raw ? Readable.fromWeb(raw as unknown as NodeReadableStream<Uint8Array>) : Readable.from([]);
}

function declaredSize(header: string | undefined): number | undefined {
  return header && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
}
