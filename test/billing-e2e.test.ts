import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import { billableQuantity } from '@meridian/protocol';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { type StripeTestServer, startStripeServer } from '../control-plane/testing/stripe-server/server.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { edgeFetch, type RunningEdge, startEdgeProcess } from './helpers/edge-process.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { waitUntil } from './helpers/wait.js';

const STRIPE_KEY = 'sk_test_meridian_e2e';
const WEBHOOK_SECRET = 'whsec_meridian_e2e';
const KEY_CACHE_SECONDS = 1;
const KEY_KV_FRESH_SECONDS = 2;
const SHAPE = [1, 3, 48, 192];

/**
 * Billing end to end. Stripe's API is unreachable here, so a local Stripe-compatible server
 * (control-plane/testing/stripe-server) stands in for it, driven by the real `stripe` SDK the control
 * plane uses; webhook signatures are made with the SDK's own helper. Everything else is real: the control
 * plane process, an agent, the edge in workerd.
 */
describe('usage ledger and Stripe metered billing', () => {
  let dir = '';
  let stripe: StripeTestServer;
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let edge: RunningEdge | undefined;
  let db: Client;
  let token = '';
  let orgId = '';
  let apiKey = '';
  let cpPort = 0;
  let served = 0;
  const api = jsonApi(() => cp?.url ?? '');
  const body = JSON.stringify({
    inputs: [
      { name: 'x', datatype: 'FP32', shape: SHAPE, data: Array.from({ length: 3 * 48 * 192 }, () => 0.25) },
    ],
  });

  const predict = async () => {
    const res = await edgeFetch(`${edge?.url}/v2/models/cls/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    if (res.status === 200) served += 1;
    return res.status;
  };
  const ledgerTotal = async (meter: string) => {
    const rs = await db.execute({
      sql: 'select coalesce(sum(quantity), 0) as q from ledger_entries where org_id = ? and meter = ?',
      args: [orgId, meter],
    });
    return Number(rs.rows[0]?.q);
  };
  /** Billable units by THE rounding rule, summed over the org's hour windows of `meter`. */
  const ledgerBillable = async (meter: 'inference_calls' | 'cpu_minutes') => {
    const rs = await db.execute({
      sql: 'select window_start, sum(quantity) as q from ledger_entries where org_id = ? and meter = ? group by window_start',
      args: [orgId, meter],
    });
    return rs.rows.reduce((n, r) => n + billableQuantity(meter, Number(r.q)), 0);
  };
  const customerId = async () => {
    const rs = await db.execute({
      sql: 'select stripe_customer_id as c from billing_customers where org_id = ?',
      args: [orgId],
    });
    return String(rs.rows[0]?.c ?? '');
  };
  const stripeTotal = async (meter: string) => stripe.meterTotal(`meridian_${meter}`, await customerId());
  const startCp = async () => {
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      ...(cpPort ? { port: cpPort } : {}),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
        MERIDIAN_STRIPE_SECRET_KEY: STRIPE_KEY,
        MERIDIAN_STRIPE_API_URL: stripe.url,
        MERIDIAN_STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        MERIDIAN_STRIPE_PUSH_INTERVAL_MS: '300',
        MERIDIAN_STRIPE_PUSH_OPEN_WINDOWS: 'true',
        MERIDIAN_STRIPE_TIMEOUT_MS: '1500',
      },
    });
    cpPort = cp.port;
  };
  const webhook = (payload: string, signature?: string) =>
    fetch(`${cp?.url}/v1/billing/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature':
          signature ??
          new Stripe(STRIPE_KEY).webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
      },
      body: payload,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'billing-e2e-'));
    stripe = await startStripeServer({ apiKey: STRIPE_KEY });
    await startCp();
    db = createClient({ url: `file:${join(dir, 'cp', 'control-plane.db')}` });
    agent = await startRegisteredAgent(cp?.url ?? '', join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_USAGE_INTERVAL_SECONDS: '1',
    });
    edge = await startEdgeProcess({
      MERIDIAN_DATA_DIR: join(dir, 'cp'),
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
      MERIDIAN_EDGE_PORT: String(await freePort()),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: cp?.url ?? '',
      MERIDIAN_EDGE_VAR_KEY_CACHE_SECONDS: String(KEY_CACHE_SECONDS),
      MERIDIAN_EDGE_VAR_KEY_KV_FRESH_SECONDS: String(KEY_KV_FRESH_SECONDS),
      MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
    });
    const reg = await api('', 'POST', '/v1/auth/register', {
      email: 'bill@example.com',
      password: 'correct horse battery',
      name: 'bill',
    });
    token = reg.json.accessToken;
    orgId = reg.json.org.id;
    const model = await api(token, 'POST', '/v1/models', { name: 'cls' });
    const up = await fetch(`${cp?.url}/v1/models/${model.json.id}/versions?filename=cls.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(REAL_MODELS.paddleCls),
    });
    if (up.status !== 201) throw new Error(`upload: ${up.status}`);
    const dep = await api(token, 'POST', '/v1/deployments', {
      name: 'cls',
      model: model.json.id,
      version: 1,
      gpuType: 'cpu',
    });
    if (dep.status !== 201) throw new Error(`deploy: ${dep.status} ${dep.text}`);
    apiKey = (await api(token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] })).json.secret;
    await waitUntil(
      async () =>
        (
          await edgeFetch(`${edge?.url}/v2/models/cls/ready`, {
            headers: { authorization: `Bearer ${apiKey}` },
          })
        ).status,
      (s) => s === 200,
      { timeoutMs: 60_000, what: 'the deployment served through the edge' },
    );
  }, 180_000);

  afterAll(async () => {
    await edge?.stop();
    await agent?.stop();
    await cp?.stop();
    db?.close();
    await stripe?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('turns N calls through the edge into exactly N in the ledger, the upcoming invoice and Stripe', async () => {
    for (let i = 0; i < 25; i++) expect(await predict()).toBe(200);
    await expect.poll(() => ledgerTotal('inference_calls'), { timeout: 20_000, interval: 250 }).toBe(served);
    const invoice = await api(token, 'GET', '/v1/billing/invoices/upcoming');
    expect(invoice.status, invoice.text).toBe(200);
    const line = invoice.json.lines.find((l: { meter: string | null }) => l.meter === 'inference_calls');
    expect(line.quantity).toBe(served);
    expect(Number(line.amountUsd)).toBeCloseTo(served * 0.001, 10);
    await expect.poll(() => stripeTotal('inference_calls'), { timeout: 20_000, interval: 250 }).toBe(served);
  }, 60_000);

  it('bills a notebook session by the running time its agent measured', async () => {
    const nb = await api(token, 'POST', '/v1/notebooks', { name: 'lab', gpuType: 'cpu' });
    expect(nb.status, nb.text).toBe(201);
    await expect
      .poll(async () => (await api(token, 'GET', `/v1/notebooks/${nb.json.id}`)).json.status, {
        timeout: 60_000,
      })
      .toBe('running');
    await new Promise((r) => setTimeout(r, 4_000));
    await api(token, 'POST', `/v1/notebooks/${nb.json.id}/stop`);
    await expect
      .poll(async () => (await api(token, 'GET', `/v1/notebooks/${nb.json.id}`)).json.status, {
        timeout: 30_000,
      })
      .toBe('stopped');
    const [session] = (await api(token, 'GET', `/v1/notebooks/${nb.json.id}/sessions`)).json.items as {
      seconds: number;
    }[];
    const billedSeconds = async () => {
      const rs = await db.execute({
        sql: "select coalesce(sum(quantity), 0) as q from ledger_entries where notebook_id = ? and meter = 'cpu_minutes'",
        args: [nb.json.id],
      });
      return Number(rs.rows[0]?.q);
    };
    // The agent measures from ready to stopped, the scheduler's session from when it saw each: within 2 s.
    await expect
      .poll(async () => Math.abs((await billedSeconds()) - (session?.seconds ?? 0)), { timeout: 20_000 })
      .toBeLessThanOrEqual(2);
    console.info(
      `notebook session ${session?.seconds} s; ledger ${(await billedSeconds()).toFixed(1)} CPU seconds`,
    );
  }, 120_000);

  it('changes nothing when an edge batch is sent again', async () => {
    const before = await ledgerTotal('inference_calls');
    const [batch] = (await db.execute('select batch_id from edge_usage_batches limit 1')).rows;
    const rows = await db.execute({
      sql: 'select * from edge_usage where batch_id = ? order by idx',
      args: [String(batch?.batch_id)],
    });
    const edgeToken = readFileSync(join(dir, 'cp', 'edge-service-token'), 'utf8').trim();
    const replay = await fetch(`${cp?.url}/internal/v1/usage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${edgeToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        batchId: batch?.batch_id,
        records: rows.rows.map((r) => ({
          orgId: r.org_id,
          keyId: r.key_id,
          userId: r.user_id,
          deploymentId: r.deployment_id,
          minute: new Date(Number(r.minute)).toISOString(),
          calls: Number(r.calls),
          bytesIn: Number(r.bytes_in),
          bytesOut: Number(r.bytes_out),
        })),
      }),
    });
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as { accepted: boolean }).accepted).toBe(false);
    expect(await ledgerTotal('inference_calls')).toBe(before);
  }, 30_000);

  it('leaves Stripe totals exact when the control plane is killed in the middle of a push', async () => {
    stripe.failNext(1, 'accept_then_hang');
    for (let i = 0; i < 10; i++) expect(await predict()).toBe(200);
    await expect
      .poll(() => stripe.requests.some((r) => r.outcome === 'hung'), { timeout: 20_000, interval: 100 })
      .toBe(true);
    // Stripe has counted the event; the control plane never hears so and dies.
    await cp?.kill();
    await startCp();
    await expect.poll(() => ledgerTotal('inference_calls'), { timeout: 20_000, interval: 250 }).toBe(served);
    await expect.poll(() => stripeTotal('inference_calls'), { timeout: 30_000, interval: 250 }).toBe(served);
    // Settled, not passing through: still exact a few pushes later.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await stripeTotal('inference_calls')).toBe(served);
    expect(await stripeTotal('inference_calls')).toBe(await ledgerBillable('inference_calls'));
    console.info(`Stripe inference_calls total ${served} = calls served, after a kill -9 mid-push`);
  }, 90_000);

  it('answers 402 at the edge after a failed payment, within the stated bound, and lifts it when paid', async () => {
    const customer = await customerId();
    // One invoice: its payment fails, then the retried charge pays it (paying another would not lift it).
    const event = (id: string, type: string) =>
      JSON.stringify({
        id,
        object: 'event',
        type,
        data: { object: { id: 'in_e2e_month', object: 'invoice', customer } },
      });
    expect((await webhook(event('evt_failed', 'invoice.payment_failed'))).status).toBe(200);
    const suspendedAt = Date.now();
    await expect.poll(predict, { timeout: 15_000, interval: 100 }).toBe(402);
    const took = Date.now() - suspendedAt;
    console.info(
      `402 at the edge ${took} ms after the failed-payment webhook (bound ${(KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS) * 1000} ms)`,
    );
    expect(took).toBeLessThanOrEqual((KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS) * 1000 + 1_000);

    expect((await webhook(event('evt_paid', 'invoice.paid'))).status).toBe(200);
    await expect.poll(predict, { timeout: 15_000, interval: 100 }).toBe(200);
  }, 60_000);

  it('agrees on every meter once work stops: ledger (by the rounding rule), upcoming invoice and Stripe', async () => {
    const deployments = (await api(token, 'GET', '/v1/deployments')).json.items as { id: string }[];
    for (const d of deployments)
      expect((await api(token, 'DELETE', `/v1/deployments/${d.id}`)).status).toBe(204);
    // The replica's last running time arrives with the agent's next usage report (every second here).
    await new Promise((r) => setTimeout(r, 3_000));
    const minutes = await ledgerBillable('cpu_minutes');
    expect(minutes).toBeGreaterThan(0);
    await expect.poll(() => stripeTotal('cpu_minutes'), { timeout: 20_000, interval: 250 }).toBe(minutes);
    await expect.poll(() => stripeTotal('inference_calls'), { timeout: 20_000, interval: 250 }).toBe(served);
    const invoice = (await api(token, 'GET', '/v1/billing/invoices/upcoming')).json as {
      lines: { meter: string | null; quantity: number }[];
    };
    const quantity = (meter: string) => invoice.lines.find((l) => l.meter === meter)?.quantity;
    expect([quantity('cpu_minutes'), quantity('inference_calls')]).toEqual([minutes, served]);
    console.info(
      `settled: ${served} calls and ${minutes} CPU minutes in the ledger, the invoice and Stripe alike`,
    );
  }, 60_000);

  it('rejects a tampered webhook', async () => {
    const payload = JSON.stringify({
      id: 'evt_x',
      object: 'event',
      type: 'invoice.paid',
      data: { object: { customer: 'cus_x' } },
    });
    const signature = new Stripe(STRIPE_KEY).webhooks.generateTestHeaderString({
      payload,
      secret: WEBHOOK_SECRET,
    });
    const res = await webhook(payload.replace('invoice.paid', 'invoice.payment_failed'), signature);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBeDefined();
  });
});
