import { INFERENCE_HEADER_CONTENT_LENGTH } from '@meridian/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { classifierBody, deploy, uploadModel } from './helpers/autoscaling.js';
import { edgeFetch } from './helpers/edge-process.js';
import { jsonApi } from './helpers/platform.js';
import { type Stack, startStack } from './helpers/stack.js';
import { waitUntil } from './helpers/wait.js';

/** Longer than the answer may take: an answer after it is the old generic timeout, not the failure. */
const HOLD_SECONDS = 45;

/**
 * A deployment at zero whose replica cannot start, through the real platform (control plane, a CPU agent,
 * the edge in workerd): the agent's model cache (a 64 KiB disk budget) cannot take the classifier, so its
 * load fails there. A call and a readiness probe are answered 503 with the reason within seconds, not after
 * the deployment's hold time with a generic message.
 */
describe('a call at zero whose start fails', () => {
  let stack: Stack;
  let token = '';
  let apiKey = '';
  const api = jsonApi(() => stack.cp.url);
  const cls = classifierBody();

  beforeAll(async () => {
    stack = await startStack(
      'failed-start-e2e',
      {},
      {},
      { MERIDIAN_AGENT_DISK_BUDGET_BYTES: String(64 * 1024) },
    );
    const owner = await api('', 'POST', '/v1/auth/register', {
      email: `failed-start-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'owner',
    });
    token = owner.json.accessToken;
    apiKey = (await api(token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] })).json.secret;
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(stack.logs());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers the held call and later probes 503 with why it failed to start', async () => {
    const modelId = await uploadModel(api, stack.cp.url, token, 'cls', REAL_MODELS.paddleCls);
    const id = await deploy(api, token, 'cls', modelId, {
      minReplicas: 0,
      maxReplicas: 1,
      scaleToZeroAfterSeconds: 2,
      holdTimeoutSeconds: HOLD_SECONDS,
    });
    const infer = async () => {
      const started = performance.now();
      const res = await edgeFetch(`${stack.edge.url}/v2/models/cls/infer`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/octet-stream',
          [INFERENCE_HEADER_CONTENT_LENGTH]: String(cls.headerLength),
        },
        body: cls.body,
      });
      return { res, text: await res.text(), ms: performance.now() - started };
    };
    // Its first replica, started on deploy, fails; with no call it goes to zero (idle) within seconds.
    await waitUntil(
      async () => (await api(token, 'GET', `/v1/deployments/${id}`)).json,
      (d) => d.status === 'idle',
      { timeoutMs: 30_000, what: 'cls idle at zero' },
    );
    // The edge's routing (refreshed every second) shows it at zero, with no failure: the call is held.
    await new Promise((r) => setTimeout(r, 2_500));
    const call = await infer();

    expect(call.res.status, call.text).toBe(503);
    expect(call.ms).toBeLessThan(30_000);
    expect(call.res.headers.get('retry-after')).toMatch(/^\d+$/);
    const error = (JSON.parse(call.text) as { error: unknown }).error;
    expect(typeof error).toBe('string');
    expect(error).toMatch(
      /^deployment 'cls' failed to start: .+; see `meridian deployments get cls`; retry in \d+ s$/,
    );
    expect(error).not.toMatch(/\bwl_|\bagt_/);
    // It was at zero, and this call woke it.
    const events = (await api(token, 'GET', `/v1/deployments/${id}/events`)).json.items as { type: string }[];
    expect(events.map((e) => e.type)).toContain('woken');
    console.info(`cls: the held call got "${error}" after ${call.ms.toFixed(0)} ms`);

    const probe = await edgeFetch(`${stack.edge.url}/v2/models/cls/ready`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(probe.status).toBe(503);
    expect(((await probe.json()) as { error: string }).error).toContain("deployment 'cls' failed to start: ");
  }, 120_000);
});
