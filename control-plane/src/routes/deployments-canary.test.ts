import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { REAL_MODELS } from '../onnx/test-models.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('deployment canary rollouts through the API', () => {
  let t: TestApp;
  let owner: Session;
  let model: string;
  let names = 0;
  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });
  const deploy = async () => {
    names += 1;
    const res = await call('POST', '/v1/deployments', {
      name: `canary-${names}`,
      model,
      version: 1,
      gpuType: 'cpu',
    });
    if (res.status !== 201) throw new Error(`deploy: ${res.status} ${res.text}`);
    return res.json.id as string;
  };
  const refusal = (res: { status: number; json: { error: { details?: { path: string }[] } } }) => ({
    status: res.status,
    paths: res.json.error.details?.map((d) => d.path),
  });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    model = await newModel(t.app, owner.accessToken, 'cls');
    const file = readFileSync(REAL_MODELS.paddleCls);
    for (let v = 0; v < 3; v++) {
      const up = await uploadVersion(t.app, owner.accessToken, model, 'cls.onnx', file);
      if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.text}`);
    }
  });
  afterAll(() => t.cleanup());

  it('starts a canary beside the current revision and shows its step, share and state', async () => {
    const id = await deploy();
    const res = await call('PATCH', `/v1/deployments/${id}`, {
      version: 2,
      canary: { steps: [0.1, 0.5, 1], windowSeconds: 30, maxErrorRateIncrease: 0.02, minCalls: 50 },
    });
    expect(res.status).toBe(200);
    // The current revision keeps serving every call until the canary is promoted.
    expect(res.json).toMatchObject({ revision: 1, version: { version: 1 } });
    expect(res.json.rollout).toMatchObject({
      revision: 2,
      version: 2,
      baseRevision: 1,
      baseVersion: 1,
      state: 'canary',
      step: 1,
      steps: [0.1, 0.5, 1],
      share: 0.1,
      windowSeconds: 30,
      maxErrorRateIncrease: 0.02,
      maxP95LatencyRatio: 2,
      minCalls: 50,
      stepStartedAt: null,
      figures: null,
      finishedAt: null,
    });
    const events = await call('GET', `/v1/deployments/${id}/events`);
    const requested = events.json.items.find((e: { type: string }) => e.type === 'canary_requested');
    // Users know versions by number; the revision is the deployment's own count.
    expect(requested?.message).toMatch(/^Canary v2 \(revision 2\) rolls out against v1 \(revision 1\): /);
  });

  it('cancels a running canary when the current version is asked for, and supersedes it with a newer one', async () => {
    const id = await deploy();
    await call('PATCH', `/v1/deployments/${id}`, { version: 2, canary: { share: 0.2 } });
    const cancelled = await call('PATCH', `/v1/deployments/${id}`, { version: 1 });
    expect(cancelled.json).toMatchObject({
      revision: 1,
      rollout: {
        revision: 2,
        state: 'cancelled',
        share: 0,
        reason: 'Canary v2 (revision 2) cancelled: v1 was asked for again',
      },
    });
    await call('PATCH', `/v1/deployments/${id}`, { version: 2, canary: { share: 0.2 } });
    const newer = await call('PATCH', `/v1/deployments/${id}`, { version: 3, canary: { share: 0.3 } });
    // A cancelled canary's revision number is never reused.
    expect(newer.json).toMatchObject({
      revision: 1,
      rollout: { revision: 4, version: 3, baseRevision: 1, share: 0.3 },
    });
    const events = await call('GET', `/v1/deployments/${id}/events?order=newest`);
    expect(events.json.items.map((e: { message: string }) => e.message)).toContain(
      'Canary v2 (revision 3) superseded: v3 (revision 4) supersedes it',
    );
  });

  it('promotes a running canary at once when its version is asked for without a policy', async () => {
    const id = await deploy();
    await call('PATCH', `/v1/deployments/${id}`, { version: 2, canary: { share: 0.2 } });
    const promoted = await call('PATCH', `/v1/deployments/${id}`, { version: 2 });
    expect(promoted.json).toMatchObject({
      revision: 2,
      version: { version: 2 },
      rollout: {
        state: 'promoted',
        share: 1,
        reason: 'Canary v2 (revision 2) promoted on request: it replaces v1 (revision 1)',
      },
    });
  });

  it('refuses a bad policy with a 400 naming the field, and changes nothing', async () => {
    const id = await deploy();
    const bad = [
      [{ share: 0 }, 'canary.share'],
      [{ share: 1 }, 'canary.share'],
      [{ share: 1.5 }, 'canary.share'],
      [{ steps: [] }, 'canary.steps'],
      [{ steps: [0.5, 0.2] }, 'canary.steps.1'],
      [{ steps: [0.1, 2] }, 'canary.steps.1'],
      [{ share: 0.2, steps: [0.1, 0.5] }, 'canary.share'],
      [{ windowSeconds: 0 }, 'canary.windowSeconds'],
      [{ windowSeconds: 1.5 }, 'canary.windowSeconds'],
      [{ maxErrorRateIncrease: -0.1 }, 'canary.maxErrorRateIncrease'],
      [{ maxErrorRateIncrease: 2 }, 'canary.maxErrorRateIncrease'],
      [{ maxP95LatencyRatio: 0.5 }, 'canary.maxP95LatencyRatio'],
      [{ minCalls: 0 }, 'canary.minCalls'],
      [{ traffic: 0.1 }, 'canary'],
    ] as const;
    for (const [canary, path] of bad) {
      const res = await call('PATCH', `/v1/deployments/${id}`, { version: 2, canary });
      expect(refusal(res), JSON.stringify(canary)).toEqual({ status: 400, paths: [path] });
    }
    const alone = await call('PATCH', `/v1/deployments/${id}`, { canary: { share: 0.1 } });
    expect(refusal(alone)).toEqual({ status: 400, paths: ['canary'] });
    expect(alone.json.error.message).toMatch(/only with version or alias/);
    const got = await call('GET', `/v1/deployments/${id}`);
    expect(got.json).toMatchObject({ revision: 1, rollout: null });
  });

  it('refuses a canary of the version served already, or of the one already rolling out, and changes nothing', async () => {
    const id = await deploy();
    const same = await call('PATCH', `/v1/deployments/${id}`, { version: 1, canary: { share: 0.1 } });
    expect(refusal(same)).toEqual({ status: 400, paths: ['canary'] });
    expect(same.json.error.message).toBe(
      `canary: canary-${names} serves v1 already: a canary rolls out another version`,
    );
    await call('PATCH', `/v1/deployments/${id}`, { version: 2, canary: { share: 0.2 } });
    const again = await call('PATCH', `/v1/deployments/${id}`, { version: 2, canary: { share: 0.5 } });
    expect(refusal(again)).toEqual({ status: 400, paths: ['canary'] });
    expect(again.json.error.message).toMatch(/v2 rolls out as a canary on canary-\d+ already/);
    const got = await call('GET', `/v1/deployments/${id}`);
    expect(got.json).toMatchObject({ revision: 1, rollout: { revision: 2, state: 'canary', share: 0.2 } });
  });

  it('refuses a canary at creation: there is no old version to compare with', async () => {
    const res = await call('POST', '/v1/deployments', {
      name: 'canary-create',
      model,
      version: 1,
      gpuType: 'cpu',
      canary: { share: 0.1 },
    });
    expect(res.status).toBe(400);
  });
});
