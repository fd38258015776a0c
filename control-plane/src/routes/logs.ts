import { setTimeout as sleep } from 'node:timers/promises';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../http/context.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, newRouter } from '../http/openapi.js';
import { parseSince, sinceProblem } from '../services/logs/since.js';
import {
  deploymentReplicas,
  followWorkloadLogs,
  type LogsDeps,
  notebookReplicas,
  type Replica,
  readWorkloadLogs,
} from '../services/logs/workload-logs.js';
import { DeploymentIdParams } from './deployments-schemas.js';
import type { RouteDeps } from './deps.js';
import { NotebookIdParams } from './notebooks-schemas.js';
import { decimalInt } from './schemas.js';

export const MAX_LOG_TAIL = 10_000;

const LogsQuery = z.object({
  tail: decimalInt(0, MAX_LOG_TAIL)
    .default(100)
    .openapi({ param: { name: 'tail', in: 'query' }, description: 'Lines to show (merged across replicas)' }),
  since: z
    .string()
    .max(64)
    .superRefine((s, ctx) => {
      const problem = sinceProblem(s, Date.now());
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .openapi({ param: { name: 'since', in: 'query' }, example: '10m' }),
  follow: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .openapi({
      param: { name: 'follow', in: 'query' },
      description: 'Keep the response open and send new lines as Server-Sent Events',
    }),
});

const WorkloadLogLineSchema = z
  .object({
    time: z.string().openapi({ format: 'date-time' }),
    seq: z.number().int().openapi({ description: 'Increases by one per line of its replica' }),
    replica: z.string().openapi({ description: 'The workload (replica) that wrote it' }),
    agentId: z.string(),
    stream: z.enum(['stdout', 'stderr', 'output', 'agent']).openapi({
      description:
        '`agent` for what the agent says about the workload (load, failed requests with their ids)',
    }),
    line: z.string(),
  })
  .openapi('WorkloadLogLine');

const WorkloadLogsSchema = z
  .object({
    lines: z.array(WorkloadLogLineSchema),
    replicas: z.array(
      z.object({
        replica: z.string(),
        agentId: z.string(),
        phase: z.string().openapi({
          description:
            'What its agent last reported (`ready`, `failed`, …), or `ended` for a removed replica',
        }),
        version: z.number().int().optional().openapi({
          description:
            'The model version a live replica of a deployment serves (none for a notebook or ended one)',
        }),
        endedAt: z
          .string()
          .optional()
          .openapi({ format: 'date-time', description: 'When an `ended` replica was removed' }),
        error: z.string().optional().openapi({ description: 'Why this replica’s lines are missing' }),
      }),
    ),
  })
  .openapi('WorkloadLogs');

const logResponses = {
  200: {
    description:
      'The last lines of every replica (of a deployment’s, also those removed within the retention window, 1 h by default), oldest first; with follow (live replicas only), Server-Sent Events: `line` (a WorkloadLogLine), `replica-ended`, and `:` heartbeat comments',
    content: {
      'application/json': { schema: WorkloadLogsSchema },
      'text/event-stream': { schema: z.string() },
    },
  },
  ...errors(401, 403, 404),
};

type LogQuery = z.infer<typeof LogsQuery>;

export interface LogRouteDeps extends LogsDeps {
  /** How often a follow sends a heartbeat comment; default 15 s. */
  heartbeatMs?: number;
  /** How often a follow looks for replicas placed since it began; default 5 s. */
  replicaPollMs?: number;
}

/** `GET /v1/deployments/{id}/logs` and `GET /v1/notebooks/{id}/logs`: workloads' lines, read from their agents. */
export function logRoutes({ logs, ...deps }: RouteDeps & { logs: LogRouteDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, method: 'get' as const };
  const deployment = createRoute({
    ...common,
    tags: ['deployments'],
    path: '/v1/deployments/{id}/logs',
    operationId: 'getDeploymentLogs',
    summary: 'Recent log lines of a deployment’s replicas (load, failed requests with their ids, output)',
    request: { params: DeploymentIdParams, query: LogsQuery },
    responses: logResponses,
  });
  const notebook = createRoute({
    ...common,
    tags: ['notebooks'],
    path: '/v1/notebooks/{id}/logs',
    operationId: 'getNotebookLogs',
    summary: 'Recent output of a notebook’s Jupyter server (not its cells’ output); its token is redacted',
    request: { params: NotebookIdParams, query: LogsQuery },
    responses: logResponses,
  });

  const answer = async (c: Context<AppEnv>, query: LogQuery, replicas: () => Promise<Replica[]>) => {
    const agentQuery = {
      tail: query.tail,
      sinceMs: query.since === undefined ? undefined : parseSince(query.since, Date.now()),
    };
    const first = await replicas();
    if (query.follow !== 'true' && query.follow !== '1')
      return c.json(await readWorkloadLogs(logs, first, agentQuery), 200);
    return follow(c, logs, first, replicas, agentQuery);
  };

  return newRouter()
    .openapi(deployment, (c) =>
      answer(c, c.req.valid('query'), () =>
        deploymentReplicas(logs.db, actorOf(c), c.req.valid('param').id, logs.endedReplicaLogsMs),
      ),
    )
    .openapi(notebook, (c) =>
      answer(c, c.req.valid('query'), () => notebookReplicas(logs.db, actorOf(c), c.req.valid('param').id)),
    );
}

/**
 * Server-Sent Events until the client goes: every replica's backlog and new lines as `line` events (id
 * `<replica>:<seq>`), replicas placed meanwhile joined as they appear, a heartbeat comment meanwhile.
 */
function follow(
  c: Context<AppEnv>,
  logs: LogRouteDeps,
  first: Replica[],
  replicas: () => Promise<Replica[]>,
  query: { tail: number; sinceMs?: number | undefined },
) {
  return streamSSE(c, async (stream) => {
    const gone = new AbortController();
    stream.onAbort(() => gone.abort());
    const heartbeat = setInterval(() => void stream.write(': heartbeat\n\n'), logs.heartbeatMs ?? 15_000);
    const following = new Set<string>();
    const tasks: Promise<void>[] = [];
    const join = (list: Replica[], q: typeof query) => {
      // A removed replica writes no more: a follow shows the live ones (a plain read shows the others).
      const fresh = list.filter((r) => r.phase !== 'ended' && !following.has(r.workloadId));
      for (const r of fresh) following.add(r.workloadId);
      if (fresh.length === 0) return;
      tasks.push(
        followWorkloadLogs(
          logs,
          fresh,
          q,
          gone.signal,
          (line) =>
            void stream.writeSSE({
              event: 'line',
              id: `${line.replica}:${line.seq}`,
              data: JSON.stringify(line),
            }),
          (r, reason) =>
            void stream.writeSSE({
              event: 'replica-ended',
              data: JSON.stringify({ replica: r.workloadId, reason }),
            }),
        ),
      );
    };
    try {
      await stream.write(': connected\n\n');
      join(first, query);
      while (!gone.signal.aborted) {
        await sleep(logs.replicaPollMs ?? 5_000, undefined, { signal: gone.signal });
        // A replica placed since: all it has said. The deployment or notebook gone (or access lost): the end.
        join(await replicas(), { tail: MAX_LOG_TAIL });
      }
    } catch {
      // The client went (the sleep aborted), or the deployment or notebook was deleted: the stream ends.
    } finally {
      clearInterval(heartbeat);
      gone.abort();
      await Promise.allSettled(tasks);
    }
  });
}
