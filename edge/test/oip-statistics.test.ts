import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sumReplicaStats } from '../src/oip/statistics.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';
import { OipWorld } from './helpers/oip-world.js';
import { deployment, json, replica as routedReplica, snapshot, version } from './helpers/routing-fixtures.js';

/** One replica's answer, as an agent gives it: its own ids, its own figures. */
const replica = (n: number, lastInference: number) => ({
  model_stats: [
    {
      name: 'dep_abc',
      version: 'mdv_xyz',
      last_inference: lastInference,
      inference_count: 10 * n,
      execution_count: n,
      inference_stats: {
        success: { count: 10 * n, ns: 1000 * n },
        fail: { count: n, ns: 7 },
        queue: { count: 10 * n, ns: 100 * n },
        compute_input: { count: 0, ns: 0 },
        compute_infer: { count: 10 * n, ns: 500 * n },
        compute_output: { count: 0, ns: 0 },
      },
      batch_stats: [],
    },
  ],
});

describe('sumReplicaStats', () => {
  it("adds up the replicas' figures under the caller's names, with the latest inference of any", () => {
    const sum = sumReplicaStats('fraud', '3', [replica(1, 1_000), replica(2, 5_000)]);
    expect(sum).toEqual({
      name: 'fraud',
      version: '3',
      last_inference: 5_000,
      inference_count: 30,
      execution_count: 3,
      inference_stats: {
        success: { count: 30, ns: 3000 },
        fail: { count: 3, ns: 14 },
        queue: { count: 30, ns: 300 },
        compute_input: { count: 0, ns: 0 },
        compute_infer: { count: 30, ns: 1500 },
        compute_output: { count: 0, ns: 0 },
      },
      batch_stats: [],
    });
  });

  it('leaves out replicas that did not answer or answered out of shape, and never sums a non-number', () => {
    const odd = {
      model_stats: [
        {
          inference_count: 'many',
          execution_count: -4,
          inference_stats: { success: { count: Number.NaN, ns: Number.POSITIVE_INFINITY } },
        },
      ],
    };
    const sum = sumReplicaStats('fraud', '3', [
      undefined,
      null,
      'text',
      { model_stats: [] },
      odd,
      replica(1, 9),
    ]);
    expect(sum.inference_count).toBe(10);
    expect(sum.execution_count).toBe(1);
    expect(sum.inference_stats.success).toEqual({ count: 10, ns: 1000 });
    expect(sum.last_inference).toBe(9);
  });

  it('reads zero for a version with no replica (scaled to zero)', () => {
    const sum = sumReplicaStats('fraud', '3', []);
    expect([sum.inference_count, sum.execution_count, sum.last_inference]).toEqual([0, 0, 0]);
    expect(Object.values(sum.inference_stats).every((d) => d.count === 0 && d.ns === 0)).toBe(true);
  });
});

describe('GET /v2/models/{name}/versions/{v}/stats', () => {
  let world: OipWorld;
  let key: string;
  let name: string;

  beforeEach(async () => {
    world = new OipWorld().install();
    const orgId = uniqueId('org');
    key = await world.cp.addKey({ orgId });
    name = uniqueId('fraud');
    // Version 1 on agent 1, version 2 on agent 2; each agent answers its own figures.
    world.routing = snapshot(1, [
      deployment(name, [version(1, 50, [routedReplica(1)]), version(2, 50, [routedReplica(2)])], {
        orgId,
        deploymentId: `dep_${name}`,
      }),
    ]);
    world.agents['http://agent-1.test:8001'] = () => json(replica(1, 100));
    world.agents['http://agent-2.test:8001'] = () => json(replica(2, 200));
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  const stats = async (v: string) => {
    const { res } = await world.get(`/v2/models/${name}/versions/${v}/stats`, key);
    return {
      status: res.status,
      body: (await res.json()) as { model_stats?: { version: string; inference_count: number }[] },
    };
  };

  it("takes a version pinned by its id, as /infer does, and asks only that version's replicas", async () => {
    const { status, body } = await stats('ver_2');

    expect(status).toBe(200);
    expect(body.model_stats?.map((m) => [m.version, m.inference_count])).toEqual([['2', 20]]);
    expect(world.agentCalls).toEqual([`http://agent-2.test:8001/v2/models/dep_${name}/versions/ver_2/stats`]);
  });

  it('takes a version pinned by its number, and answers 404 for one the deployment does not have', async () => {
    expect((await stats('1')).body.model_stats?.map((m) => [m.version, m.inference_count])).toEqual([
      ['1', 10],
    ]);
    expect((await stats('ver_9')).status).toBe(404);
    expect((await stats('3')).status).toBe(404);
  });
});
