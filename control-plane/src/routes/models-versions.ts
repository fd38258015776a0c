import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import type { ModelDeps } from '../services/models/deps.js';
import {
  completeMultipartUpload,
  listMultipartParts,
  startMultipartUpload,
} from '../services/models/multipart.js';
import { uploadVersion } from '../services/models/upload.js';
import {
  createDownloadUrl,
  DOWNLOAD_URL_TTL,
  deleteVersion,
  getVersion,
  listVersions,
  updateVersion,
} from '../services/models/versions.js';
import type { RouteDeps } from './deps.js';
import {
  Description,
  DownloadUrlSchema,
  FileName,
  Metadata,
  ModelIdParams,
  ModelVersionSchema,
  MultipartUploadSchema,
  Tags,
  unprocessableModel,
  unsupportedFormat,
  VersionParams,
  VersionRefParams,
} from './models-schemas.js';
import { decimalInt, IdParam, Limit } from './schemas.js';

/**
 * The app lets every /v1/models/{id}/versions… body through its global limit so uploads can stream; the
 * JSON routes among them get this one back. 1 MiB holds a completion naming all 10,000 parts.
 */
const JSON_BODY_LIMIT = 1024 * 1024;
const limitJson = bodyLimit({
  maxSize: JSON_BODY_LIMIT,
  onError: () => {
    throw new AppError('payload_too_large', `The request body is larger than ${JSON_BODY_LIMIT} bytes`);
  },
});

const UploadQuery = z.object({
  filename: FileName.openapi({
    description: 'Decides the format: .onnx, .pt, .pth, .pkl, .joblib, .h5, .keras, .pb, .tar.gz, .zip',
  }),
  description: Description.optional(),
  runId: IdParam('run').optional().openapi({ description: 'The run the model came from' }),
});
const StartBody = z.strictObject({
  filename: FileName,
  sizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  partCount: z.number().int().min(1).max(10_000),
  description: Description.optional(),
  runId: IdParam('run').optional(),
  tags: Tags.optional(),
  metadata: Metadata.optional(),
});
/**
 * Names the upload a request acts on by the version's id as well as its number: a refused or deleted upload
 * gives its number back, so the number alone may by now be another upload's. Optional for older clients.
 */
const UploadVersionId = IdParam('mdv').optional().openapi({
  description:
    'The version id (mdv_…) the upload started as: refused with 409 if the number is now another upload',
});
const CompleteBody = z.strictObject({
  versionId: UploadVersionId,
  parts: z
    .array(
      z.strictObject({ partNumber: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(128) }),
    )
    .min(1)
    .max(10_000),
});
const PartsQuery = z.object({
  partCount: z
    .string()
    .regex(/^[1-9][0-9]{0,4}$/)
    .transform(Number)
    .refine((n) => n <= 10_000, 'at most 10000')
    .openapi({ description: 'The part count the upload was started with: URLs come back for those missing' }),
  versionId: UploadVersionId,
});
const StoredPartsSchema = MultipartUploadSchema.extend({
  stored: z.array(z.object({ partNumber: z.number().int(), etag: z.string(), sizeBytes: z.number().int() })),
}).openapi('ModelMultipartParts');
const UpdateBody = z
  .strictObject({ description: Description.optional(), tags: Tags.optional(), metadata: Metadata.optional() })
  .refine((b) => Object.keys(b).length > 0, 'description, tags or metadata');

export function modelVersionRoutes({ models, ...deps }: RouteDeps & { models: ModelDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['models'] };
  const withJson = { ...common, middleware: [deps.requireAuth, limitJson] };
  const upload = createRoute({
    ...common,
    method: 'post',
    path: '/v1/models/{id}/versions',
    operationId: 'uploadVersion',
    summary: 'Upload a new version: the raw file as the body, streamed to storage (sha256 and size recorded)',
    description:
      'ONNX files are loaded with onnxruntime and their signature and opset stored; a file that does not ' +
      'load is rejected with 422. Other formats are stored for a container runtime. For large files use ' +
      'the presigned multipart upload instead.',
    request: {
      params: ModelIdParams,
      query: UploadQuery,
      body: {
        required: true,
        content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
      },
    },
    responses: {
      201: jsonContent(ModelVersionSchema, 'Stored and ready'),
      ...errors(401, 403, 404, 409),
      ...unsupportedFormat,
      ...unprocessableModel,
    },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/models/{id}/versions',
    operationId: 'listVersions',
    summary: 'Versions of a model, newest first',
    request: {
      params: ModelIdParams,
      query: z.object({ limit: Limit, cursor: decimalInt(1, 2_147_483_647).optional() }),
    },
    responses: {
      200: jsonContent(
        z.object({ items: z.array(ModelVersionSchema), nextCursor: z.string().nullable() }),
        'Versions',
      ),
      ...errors(401, 403, 404),
    },
  });
  const start = createRoute({
    ...withJson,
    method: 'post',
    path: '/v1/models/{id}/versions/uploads',
    operationId: 'startVersionUpload',
    summary: 'Start a presigned multipart upload: reserves the version and returns a URL per part',
    request: { params: ModelIdParams, ...jsonBody(StartBody) },
    responses: {
      201: jsonContent(MultipartUploadSchema, 'PUT each part to its URL, then call complete with the ETags'),
      ...errors(401, 403, 404),
      ...unsupportedFormat,
    },
  });
  const complete = createRoute({
    ...withJson,
    method: 'post',
    path: '/v1/models/{id}/versions/{version}/complete',
    operationId: 'completeVersionUpload',
    summary: 'Complete a multipart upload; the control plane then verifies the stored file',
    request: { params: VersionParams, ...jsonBody(CompleteBody) },
    responses: {
      200: jsonContent(ModelVersionSchema, 'Verified and ready'),
      ...errors(401, 403, 404, 409),
      ...unprocessableModel,
    },
  });
  const parts = createRoute({
    ...common,
    method: 'get',
    path: '/v1/models/{id}/versions/{version}/parts',
    operationId: 'listVersionUploadParts',
    summary: 'Resume a multipart upload: the parts already stored, and fresh URLs for the missing ones',
    request: { params: VersionParams, query: PartsQuery },
    responses: {
      200: jsonContent(StoredPartsSchema, 'Stored parts with their ETags; PUT the rest, then complete'),
      ...errors(401, 403, 404, 409),
    },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/models/{id}/versions/{version}',
    operationId: 'getVersion',
    summary: 'One version, by number, alias or latest',
    request: { params: VersionRefParams },
    responses: { 200: jsonContent(ModelVersionSchema, 'The version'), ...errors(401, 403, 404) },
  });
  const update = createRoute({
    ...withJson,
    method: 'patch',
    path: '/v1/models/{id}/versions/{version}',
    operationId: 'updateVersion',
    summary: 'Change a version’s description, tags or metadata; its file and signature never change',
    request: { params: VersionParams, ...jsonBody(UpdateBody) },
    responses: { 200: jsonContent(ModelVersionSchema, 'Updated'), ...errors(401, 403, 404) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/models/{id}/versions/{version}',
    operationId: 'deleteVersion',
    summary: 'Delete a version and its file; refused while an alias points at it or it is deployed',
    request: { params: VersionParams, query: z.object({ versionId: UploadVersionId }) },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404, 409) },
  });
  const download = createRoute({
    ...common,
    method: 'get',
    path: '/v1/models/{id}/versions/{version}/download-url',
    operationId: 'getVersionDownloadUrl',
    summary: 'An expiring URL that downloads the version’s file with no other credential, and its sha256',
    description:
      'The URL lives 5 minutes unless `expiresIn` says otherwise, at most an hour; deleting the version revokes it.',
    request: {
      params: VersionRefParams,
      query: z.object({
        expiresIn: decimalInt(1, DOWNLOAD_URL_TTL.maxSeconds)
          .default(DOWNLOAD_URL_TTL.defaultSeconds)
          .openapi({ description: 'Seconds the URL stays valid' }),
      }),
    },
    responses: { 200: jsonContent(DownloadUrlSchema, 'Signed URL'), ...errors(401, 403, 404, 409) },
  });

  return newRouter()
    .openapi(upload, async (c) => {
      const { filename, ...rest } = c.req.valid('query');
      const declared = c.req.header('content-length');
      const body = requestBody(c.env, c.req.raw);
      const input = { fileName: filename, ...rest };
      try {
        const version = await uploadVersion(
          models,
          actorOf(c),
          c.req.valid('param').id,
          input,
          body,
          declaredSize(declared),
        );
        return c.json(version, 201);
      } catch (err) {
        // Refused before the whole file arrived: answer, then close the connection rather than read the rest.
        if (!body.readableEnded) c.header('connection', 'close');
        throw err;
      }
    })
    .openapi(list, async (c) =>
      c.json(await listVersions(models.db, actorOf(c), c.req.valid('param').id, c.req.valid('query')), 200),
    )
    .openapi(start, async (c) => {
      const { filename, ...rest } = c.req.valid('json');
      const started = await startMultipartUpload(models, actorOf(c), c.req.valid('param').id, {
        fileName: filename,
        ...rest,
      });
      return c.json(started, 201);
    })
    .openapi(complete, async (c) => {
      const { id, version } = c.req.valid('param');
      return c.json(await completeMultipartUpload(models, actorOf(c), id, version, c.req.valid('json')), 200);
    })
    .openapi(parts, async (c) => {
      const { id, version } = c.req.valid('param');
      return c.json(await listMultipartParts(models, actorOf(c), id, version, c.req.valid('query')), 200);
    })
    .openapi(get, async (c) => {
      const { id, version } = c.req.valid('param');
      return c.json(await getVersion(models.db, actorOf(c), id, version), 200);
    })
    .openapi(update, async (c) => {
      const { id, version } = c.req.valid('param');
      return c.json(await updateVersion(models.db, actorOf(c), id, version, c.req.valid('json')), 200);
    })
    .openapi(remove, async (c) => {
      const { id, version } = c.req.valid('param');
      await deleteVersion(models, actorOf(c), id, version, c.req.valid('query').versionId);
      return c.body(null, 204);
    })
    .openapi(download, async (c) => {
      const { id, version } = c.req.valid('param');
      return c.json(
        await createDownloadUrl(models, actorOf(c), id, version, c.req.valid('query').expiresIn),
        200,
      );
    });
}

/**
 * The request body as a Node stream. Under @hono/node-server that is the IncomingMessage itself (in c.env),
 * read directly rather than through a web ReadableStream and back (bench/model-upload.ts: 0.66 → 0.81 of
 * a direct S3 upload);
 * elsewhere (app.request in tests) the web body is adapted.
 */
function requestBody(env: unknown, request: Request): Readable {
  const incoming = typeof env === 'object' && env !== null && 'incoming' in env ? env.incoming : undefined;
  if (incoming instanceof Readable && !incoming.readableDidRead) return incoming;
  const raw = request.body;
  return raw ? Readable.fromWeb(raw as unknown as NodeReadableStream<Uint8Array>) : Readable.from([]);
}

function declaredSize(header: string | undefined): number | undefined {
  return header && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
}
