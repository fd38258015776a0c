import { z } from '@hono/zod-openapi';
import { GpuType } from '@meridian/protocol';
import { DEPLOYMENT_STATUSES } from '../db/schema.js';
import { ErrorEnvelopeSchema } from '../http/openapi.js';
import { MAX_GPU_COUNT } from '../services/workloads/gpu-request.js';
import { ModelName } from './models-schemas.js';
import { IdParam } from './schemas.js';

/** Most replicas one deployment may ask for, until quotas per plan say otherwise. */
const MAX_REPLICAS = 20;

export const DeploymentIdParams = z.object({
  id: IdParam('dep').openapi({ param: { name: 'id', in: 'path' } }),
});

/** A container image reference; the agent pulls it, so it never reaches a shell. */
export const ImageRef = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[a-z0-9][A-Za-z0-9._/:@-]*$/, 'an image reference such as ghcr.io/acme/server:1.2')
  .openapi({ example: 'ghcr.io/acme/sklearn-server:1.4' });

export const GpuCount = z
  .number()
  .int()
  .min(0)
  .max(MAX_GPU_COUNT)
  .openapi({ description: '0 for cpu, 1–8 for a GPU type; default 0 for cpu and 1 otherwise' });

const VersionNumber = z.number().int().min(1).max(2_147_483_647).openapi({ example: 3 });
const VersionAlias = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'an alias of the model, or latest')
  .openapi({
    description: 'An alias of the model, or latest for its newest ready version',
    example: 'production',
  });
const MinReplicas = z
  .number()
  .int()
  .min(0)
  .max(MAX_REPLICAS)
  .openapi({ description: '0 lets it scale to zero when idle; default 1' });
const MaxReplicas = z
  .number()
  .int()
  .min(1)
  .max(MAX_REPLICAS)
  .openapi({ description: 'At least minReplicas; default minReplicas (1 when that is 0)' });
/** Longest scale-up or scale-down delay: past an hour a delay no longer follows load. */
const MAX_DELAY_SECONDS = 3_600;
const Delay = z.number().int().min(0).max(MAX_DELAY_SECONDS);

/** The autoscaling settings, the same at create and PATCH. */
const autoscalingFields = {
  minReplicas: MinReplicas.optional(),
  maxReplicas: MaxReplicas.optional(),
  targetConcurrency: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .openapi({ description: 'In-flight requests per replica the autoscaler aims for; default 16' }),
  scaleUpDelaySeconds: Delay.optional().openapi({
    description: 'How long more replicas must be wanted before they start; default 0',
  }),
  scaleDownDelaySeconds: Delay.optional().openapi({
    description: 'How long fewer replicas must be wanted before some stop; default 30',
  }),
  scaleToZeroAfterSeconds: z.number().int().min(1).max(86_400).nullable().optional().openapi({
    description:
      'Only with minReplicas 0: seconds without calls before the last replica stops (default 300); null: never to zero',
  }),
  holdTimeoutSeconds: z.number().int().min(1).max(300).optional().openapi({
    description:
      'How long the edge holds a call while no replica is ready (scaled to zero, or starting) before it answers 503 with Retry-After; default 30',
  }),
};

export const Batching = z
  .strictObject({
    maxBatchSize: z.number().int().min(1).max(1024),
    maxQueueDelayMs: z.number().int().min(0).max(1000),
  })
  .openapi({ description: 'Dynamic batching of the onnx runtime' });

export const CreateDeploymentBody = z.strictObject({
  name: ModelName.openapi({ example: 'fraud-api' }),
  model: ModelName.openapi({ description: 'The model’s id (mdl_…) or its name', example: 'fraud-detector' }),
  version: VersionNumber.optional().openapi({ description: 'The version to serve; or give alias' }),
  alias: VersionAlias.optional(),
  runtime: z
    .enum(['onnx', 'container'])
    .optional()
    .openapi({ description: 'Default: the version’s own (onnx for ONNX files, container otherwise)' }),
  image: ImageRef.optional().openapi({ description: 'The model-server image; container runtime only' }),
  gpuType: GpuType,
  gpuCount: GpuCount.optional(),
  ...autoscalingFields,
  batching: Batching.optional(),
  deterministic: z
    .boolean()
    .optional()
    .openapi({ description: 'Same input, same output: the edge may answer repeats from its cache' }),
});

const Share = z.number().gt(0).lt(1);
export const CanaryPolicyBody = z
  .strictObject({
    share: Share.optional().openapi({
      description: 'Share of unpinned calls the new version takes first, 0 < share < 1; default 0.1',
      example: 0.1,
    }),
    steps: z
      .array(z.number().gt(0).max(1))
      .min(1)
      .max(10)
      .optional()
      .openapi({
        description:
          'Shares one step after another, rising (the first is `share`); a last 1 is the promotion. Default [share]',
        example: [0.1, 0.5, 1],
      }),
    windowSeconds: z.number().int().min(1).max(86_400).optional().openapi({
      description: 'How long each step lasts before it may pass; default 60',
    }),
    maxErrorRateIncrease: z.number().min(0).max(1).optional().openapi({
      description:
        'Most the new version’s 5xx rate may exceed the old one’s over the same window, in absolute terms (0.05: 5 points); default 0.05',
    }),
    maxP95LatencyRatio: z.number().min(1).max(100).nullable().optional().openapi({
      description:
        'Most the new version’s p95 latency may be, as a multiple of the old one’s; null: not judged. Default 2',
    }),
    p95LatencySlackMs: z.number().min(0).max(60_000).optional().openapi({
      description: 'A p95 only this many ms above the old one’s is never worse; default 10',
    }),
    minCalls: z.number().int().min(1).max(1_000_000).optional().openapi({
      description: 'Calls the new version must serve in a step before it may pass; default 20',
    }),
  })
  .openapi('CanaryPolicy', {
    description:
      'Roll the new version out as a canary: it takes `share` of the calls, step by step, and is rolled back by itself when its 5xx rate or p95 is worse than the old version’s by more than the margins',
  });

export const UpdateDeploymentBody = z
  .strictObject({
    version: VersionNumber.optional().openapi({ description: 'Roll out this version as a new revision' }),
    alias: VersionAlias.optional().openapi({ description: 'Roll out the version this alias names now' }),
    canary: CanaryPolicyBody.optional(),
    ...autoscalingFields,
    batching: Batching.nullable().optional().openapi({ description: 'null turns batching settings off' }),
    deterministic: z.boolean().optional(),
  })
  .refine(
    (b) => Object.keys(b).length > 0,
    'version, alias, canary, an autoscaling setting, batching or deterministic',
  );

const RolloutSide = z.object({
  calls: z.number().int(),
  errors: z.number().int().openapi({ description: '5xx answers callers got' }),
  errorRate: z.number().nullable(),
  p95Ms: z.number().nullable(),
});
const RolloutSchema = z
  .object({
    revision: z.number().int().openapi({ description: 'The canary’s revision' }),
    version: z.number().int().nullable(),
    baseRevision: z
      .number()
      .int()
      .openapi({ description: 'The revision it is compared with and returns to' }),
    baseVersion: z.number().int().nullable(),
    state: z.enum(['canary', 'promoted', 'rolled_back', 'cancelled', 'superseded']),
    step: z.number().int().openapi({ description: 'The step it is at (1-based)' }),
    steps: z.array(z.number()).openapi({ description: 'Shares step by step, ending with 1 (promoted)' }),
    share: z.number().openapi({ description: 'Share of unpinned calls the canary takes now' }),
    windowSeconds: z.number().int(),
    maxErrorRateIncrease: z.number(),
    maxP95LatencyRatio: z.number().nullable(),
    p95LatencySlackMs: z.number(),
    minCalls: z.number().int(),
    stepStartedAt: z.string().nullable().openapi({ description: 'Null while the canary’s replicas start' }),
    figures: z
      .object({ canary: RolloutSide, base: RolloutSide, judgedAt: z.string() })
      .nullable()
      .openapi({ description: 'What the edge counted for both revisions in this step, as last judged' }),
    reason: z.string().nullable().openapi({ description: 'Why it ended, with the figures' }),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('Rollout');

const phaseCount = z.number().int();
const StartProblemSchema = z
  .object({
    kind: z.enum(['unplaceable', 'failed']).openapi({
      description:
        'unplaceable: no online host fits its replicas now (placement tries again on every scheduler tick); ' +
        'failed: its last start failed and none has succeeded since',
    }),
    message: z.string().openapi({ description: 'The scheduler’s or the replica’s reason, naming no host' }),
    retryAt: z.string().optional().openapi({ description: 'failed: when the scheduler starts it again' }),
  })
  .openapi('DeploymentStartProblem');
export const DeploymentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    modelId: z.string(),
    modelName: z.string(),
    revision: z.number().int().openapi({ description: 'The revision every replica should serve' }),
    version: z
      .object({ id: z.string(), version: z.number().int(), requested: z.string() })
      .openapi({ description: 'The model version of the current revision, and how it was asked for' }),
    runtime: z.enum(['onnx', 'container']),
    image: z.string().nullable(),
    gpuType: GpuType,
    gpuCount: z.number().int(),
    minReplicas: z.number().int(),
    maxReplicas: z.number().int(),
    targetConcurrency: z.number().int(),
    scaleUpDelaySeconds: z.number().int(),
    scaleDownDelaySeconds: z.number().int(),
    scaleToZeroAfterSeconds: z.number().int().nullable(),
    holdTimeoutSeconds: z.number().int(),
    desiredReplicas: z
      .number()
      .int()
      .openapi({ description: 'The replicas the autoscaler wants now, within minReplicas–maxReplicas' }),
    batching: Batching.nullable(),
    deterministic: z.boolean(),
    status: z.enum(DEPLOYMENT_STATUSES),
    statusReason: z.string().nullable(),
    startProblem: StartProblemSchema.nullable().openapi({
      description:
        'Why it cannot start, as data (statusReason says it in words); null while it starts, serves or is idle',
    }),
    replicas: z
      .object({
        total: phaseCount,
        pending: phaseCount,
        pulling: phaseCount,
        loading: phaseCount,
        ready: phaseCount,
        failed: phaseCount,
        stopped: phaseCount,
      })
      .openapi({ description: 'Its workloads by the phase their agents last reported' }),
    startup: z
      .object({
        replicaId: z.string(),
        attempt: z.number().int(),
        scheduledAt: z.string().nullable(),
        pullingAt: z
          .string()
          .nullable()
          .openapi({ description: 'Null when the model was in the agent’s cache' }),
        pulledAt: z.string().nullable(),
        readyAt: z.string().nullable().openapi({ description: 'Loaded and serving' }),
        firstCallAt: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: 'How the newest replica of the current revision started, phase by phase' }),
    rollout: RolloutSchema.nullable().openapi({
      description: 'Its newest canary rollout, if it ever had one',
    }),
    createdBy: z.string().openapi({ description: 'The user or API key that created it' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Deployment');

export const DeploymentEventSchema = z
  .object({
    id: z.string(),
    type: z.string().openapi({ example: 'rollout_requested' }),
    message: z.string(),
    at: z.string(),
  })
  .openapi('DeploymentEvent');

export const unprocessableVersion = {
  422: {
    description: 'The onnx runtime cannot load the version’s format',
    content: { 'application/json': { schema: ErrorEnvelopeSchema } },
  },
};
