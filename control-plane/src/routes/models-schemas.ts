import { z } from '@hono/zod-openapi';
import { ErrorEnvelopeSchema } from '../http/openapi.js';
import { LATEST } from '../services/models/records.js';
import { decimalInt, FreeText, IdParam } from './schemas.js';

const noDotDot = (value: string) => !value.includes('..');

/** Model names: letters, digits, `. _ -`, starting with a letter or digit; never a path. */
export const ModelName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits and . _ - only, starting with a letter or digit')
  .refine(noDotDot, 'must not contain ..')
  .openapi({ example: 'fraud-detector' });

/** Words that name versions in paths, so no alias may take them. */
const RESERVED_ALIASES = [LATEST, 'uploads'];

/** Alias names start with a letter, so `/versions/{version}` can tell an alias from a version number. */
export const AliasName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'letters, digits, _ and -, starting with a letter')
  .refine((a) => !RESERVED_ALIASES.includes(a), `${RESERVED_ALIASES.join(' and ')} are reserved`)
  .openapi({ example: 'production' });

/** The file's own name, which decides its format; it is shown, never used as a storage path. */
export const FileName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits and . _ - only, no slashes')
  .refine(noDotDot, 'must not contain ..')
  .openapi({ example: 'model.onnx' });

const TagKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:/-]+$/, 'letters, digits and _ . : / - only');
export const Tags = z
  .record(TagKey, FreeText(1024))
  .refine((t) => Object.keys(t).length <= 50, 'at most 50 tags')
  .openapi({ example: { team: 'risk' } });

const METADATA_MAX_BYTES = 16 * 1024;
export const Metadata = z
  .record(z.string().max(256), z.unknown())
  .refine(
    (m) => JSON.stringify(m).length <= METADATA_MAX_BYTES,
    `at most ${METADATA_MAX_BYTES} bytes as JSON`,
  )
  .openapi({ example: { accuracy: 0.97, framework: 'onnx' } });

export const Description = FreeText(5000);
export const VersionNumber = decimalInt(1, 2_147_483_647);

export const ModelIdParams = z.object({ id: IdParam('mdl').openapi({ param: { name: 'id', in: 'path' } }) });
export const VersionParams = ModelIdParams.extend({
  version: VersionNumber.openapi({ param: { name: 'version', in: 'path' }, example: 3 }),
});
export const VersionRefParams = ModelIdParams.extend({
  version: z
    .string()
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'a version number, an alias or latest')
    .refine((v) => /^[A-Za-z]/.test(v) || /^\d{1,10}$/.test(v), 'a version number, an alias or latest')
    .openapi({ param: { name: 'version', in: 'path' }, example: 'production' }),
});
export const AliasParams = ModelIdParams.extend({
  alias: AliasName.openapi({ param: { name: 'alias', in: 'path' } }),
});

const TensorSpecSchema = z
  .object({
    name: z.string(),
    datatype: z.string().openapi({ example: 'FP32' }),
    shape: z.array(z.number().int()).openapi({ description: '-1 for a dynamic dimension', example: [-1, 3] }),
    dimNames: z
      .array(z.string().nullable())
      .openapi({ description: 'Symbolic name of each dynamic dimension, null where it has none' }),
  })
  .openapi('TensorSpec');

export const SignatureSchema = z
  .object({
    inputs: z.array(TensorSpecSchema),
    outputs: z.array(TensorSpecSchema),
    opset: z.number().int().nullable(),
    opsetImports: z.array(z.object({ domain: z.string(), version: z.number().int() })),
    irVersion: z.number().int().nullable(),
    producer: z.object({ name: z.string(), version: z.string() }),
  })
  .openapi('OnnxSignature');

export const ModelSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    tags: z.record(z.string(), z.string()),
    latestVersion: z.number().int().nullable(),
    aliases: z.array(z.object({ alias: z.string(), version: z.number().int() })),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Model');

export const ModelVersionSchema = z
  .object({
    id: z.string(),
    modelId: z.string(),
    version: z.number().int(),
    status: z.enum(['uploading', 'ready', 'failed']),
    format: z.enum(['onnx', 'sklearn', 'pytorch', 'tensorflow', 'keras']),
    runtime: z.enum(['onnx', 'container']),
    fileName: z.string(),
    sizeBytes: z.number().int().nullable().openapi({ description: 'The declared size while uploading' }),
    sha256: z.string().nullable(),
    signature: SignatureSchema.nullable().openapi({ description: 'ONNX only' }),
    description: z.string(),
    tags: z.record(z.string(), z.string()),
    metadata: z.record(z.string(), z.unknown()),
    runId: z.string().nullable(),
    aliases: z.array(z.string()),
    createdAt: z.string(),
  })
  .openapi('ModelVersion');

export const AliasSchema = z
  .object({
    modelId: z.string(),
    alias: z.string(),
    version: z.number().int(),
    versionId: z.string(),
    moved: z.boolean().openapi({ description: 'Whether the alias existed and now points elsewhere' }),
    updatedAt: z.string(),
  })
  .openapi('ModelAlias');

export const DownloadUrlSchema = z
  .object({
    url: z.string(),
    sha256: z.string(),
    sizeBytes: z.number().int(),
    expiresAt: z.string(),
    version: z.number().int(),
    fileName: z.string(),
    format: z.string(),
  })
  .openapi('ModelDownloadUrl');

export const MultipartUploadSchema = z
  .object({
    version: ModelVersionSchema,
    uploadId: z.string(),
    parts: z.array(z.object({ partNumber: z.number().int(), url: z.string() })),
    expiresAt: z.string(),
  })
  .openapi('ModelMultipartUpload');

const envelope = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorEnvelopeSchema } },
});
export const unsupportedFormat = { 415: envelope('The file name has no model format Meridian knows') };
export const unprocessableModel = {
  422: envelope('The file is empty, or an ONNX file onnxruntime cannot load'),
};
