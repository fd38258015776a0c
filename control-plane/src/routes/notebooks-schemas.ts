import { z } from '@hono/zod-openapi';
import { GpuType } from '@meridian/protocol';
import { NOTEBOOK_STATUSES } from '../db/schema.js';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, DEFAULT_NOTEBOOK_IMAGE } from '../services/notebooks/deps.js';
import { GpuCount, ImageRef } from './deployments-schemas.js';
import { ModelName } from './models-schemas.js';
import { IdParam } from './schemas.js';

export const NotebookIdParams = z.object({
  id: IdParam('nb').openapi({ param: { name: 'id', in: 'path' } }),
});

export const CreateNotebookBody = z.strictObject({
  name: ModelName.openapi({ example: 'churn-exploration' }),
  gpuType: GpuType,
  gpuCount: GpuCount.optional(),
  image: ImageRef.optional().openapi({
    description: `A Jupyter image; default the platform's (MERIDIAN_NOTEBOOK_IMAGE; unset: ${DEFAULT_NOTEBOOK_IMAGE}, built on each docker host from Debian's packages)`,
  }),
  idleTimeoutSeconds: z
    .number()
    .int()
    .min(5)
    .max(7 * 24 * 3600)
    .optional()
    .openapi({
      description: `Stopped after this long without activity; default ${DEFAULT_IDLE_TIMEOUT_SECONDS}`,
    }),
});

export const NotebookSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    ownerId: z.string(),
    gpuType: GpuType,
    gpuCount: z.number().int(),
    image: z.string(),
    idleTimeoutSeconds: z.number().int(),
    desired: z.enum(['running', 'stopped']).openapi({ description: 'What its owner asked for' }),
    status: z.enum(NOTEBOOK_STATUSES).openapi({ description: 'Where the scheduler and agent have got to' }),
    statusReason: z.string().nullable(),
    lastActivityAt: z.string().nullable(),
    token: z.string().nullable().openapi({ description: 'The server’s token; null unless you own it' }),
    accessUrl: z
      .string()
      .nullable()
      .openapi({ description: 'Where you open it, through the edge; null unless you own it' }),
    endpoint: z
      .string()
      .nullable()
      .openapi({ description: 'The server’s direct URL on its agent while it runs; null unless you own it' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Notebook');

export const NotebookSessionSchema = z
  .object({
    id: z.string(),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
    seconds: z.number().int().nullable().openapi({ description: 'Billed running time, once it ended' }),
    gpuType: GpuType,
    gpuCount: z.number().int(),
    endReason: z.string().nullable().openapi({ example: 'idle' }),
  })
  .openapi('NotebookSession');
