import { z } from '@hono/zod-openapi';
import { RUN_STATUSES } from '../db/schema.js';
import { BATCH_LIMITS, TEXT_LIMITS } from '../services/experiments/limits.js';
import { FreeText, IdParam } from './schemas.js';

/**
 * Metric, param and tag keys: MLflow's charset (letters, digits, `_ . - /` and space), but never absolute
 * and never `..`, so a key can't be mistaken for a path anywhere it is shown or exported.
 */
export const EntryKey = z
  .string()
  .min(1)
  .max(TEXT_LIMITS.key)
  .regex(/^[A-Za-z0-9_.\-/ ]+$/, 'letters, digits, space and _ . - / only')
  .refine((k) => !k.startsWith('/'), 'must not start with /')
  .refine((k) => !k.includes('..'), 'must not contain ..');

/** Artifact paths: relative, `/`-separated segments of [A-Za-z0-9._-], no `..`; display and lookup only. */
export const ArtifactPath = z
  .string()
  .min(1)
  .max(TEXT_LIMITS.artifactPath)
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative path of [A-Za-z0-9._-] segments')
  .refine((p) => !p.includes('..'), 'must not contain ..')
  .refine((p) => p.split('/').every((s) => s !== '.'), 'must not contain . segments')
  .openapi({ example: 'plots/loss.png' });

/** Experiment and run names: free text without control characters. */
export const EntityName = z
  .string()
  .trim()
  .min(1)
  .max(TEXT_LIMITS.name)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');

export const ParamValue = FreeText(TEXT_LIMITS.paramValue);
export const TagValue = FreeText(TEXT_LIMITS.tagValue);
export const TagMap = z
  .record(EntryKey, TagValue)
  .refine((tags) => Object.keys(tags).length <= BATCH_LIMITS.tags, `at most ${BATCH_LIMITS.tags} tags`);
const Timestamp = z.iso.datetime({ offset: true });

export const ParamEntry = z.strictObject({ key: EntryKey, value: ParamValue });
export const TagEntry = z.strictObject({ key: EntryKey, value: TagValue });
/** JSON has no NaN or Infinity, and z.number() refuses strings, so only finite numbers get through. */
export const MetricEntry = z.strictObject({
  key: EntryKey,
  value: z.number(),
  step: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  timestamp: Timestamp.optional(),
});

export const ExperimentIdParams = z.object({
  id: IdParam('exp').openapi({ param: { name: 'id', in: 'path' } }),
});
export const RunIdParams = z.object({ id: IdParam('run').openapi({ param: { name: 'id', in: 'path' } }) });

export const ExperimentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    tags: z.record(z.string(), z.string()),
    createdAt: z.string(),
  })
  .openapi('Experiment');

export const RunSchema = z
  .object({
    id: z.string(),
    experimentId: z.string(),
    name: z.string(),
    status: z.enum(RUN_STATUSES),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Run');

export const MetricPointSchema = z
  .object({ key: z.string(), value: z.number(), step: z.number().int(), timestamp: z.string() })
  .openapi('MetricPoint');

/** A run in a list: enough to compare runs side by side without a call per run. */
export const RunSummarySchema = RunSchema.extend({
  params: z.record(z.string(), z.string()),
  tags: z.record(z.string(), z.string()),
  metrics: z.array(MetricPointSchema).openapi({ description: 'The latest point of every metric key' }),
}).openapi('RunSummary');

export const RunDetailSchema = RunSummarySchema.extend({
  modelVersions: z
    .array(
      z.object({
        id: z.string(),
        modelId: z.string(),
        modelName: z.string(),
        version: z.number().int(),
        status: z.string(),
        createdAt: z.string(),
      }),
    )
    .openapi({ description: 'Model versions that name this run as their source' }),
}).openapi('RunDetail');

export const ArtifactSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    path: z.string(),
    sizeBytes: z.number().int(),
    sha256: z.string(),
    contentType: z.string(),
    createdAt: z.string(),
  })
  .openapi('Artifact');

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
