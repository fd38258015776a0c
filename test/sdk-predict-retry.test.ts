import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BadRequestError,
  MeridianClient,
  NetworkError,
  predict,
  predictRaw,
  predictSimple,
  ServerError,
} from '@meridian/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/**
 * How the SDK retries a prediction, against a real HTTP server on 127.0.0.1 that answers each attempt as
 * the test scripts it (a broken connection, a 503, a 200). Every attempt must carry the same
 * Idempotency-Key: that is what lets the edge bill the call once however often it is sent.
 */
type Step = 'break' | number | { status: number; retryAfter: string };

describe('SDK predictions retry with one Idempotency-Key', () => {
  let server: Server;
  let client: MeridianClient;
  let script: Step[] = [];
  let seen: { key: string | undefined; at: number; body: string }[] = [];

  const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
    seen.push({ key: req.headers['idempotency-key'] as string | undefined, at: Date.now(), body });
    const step = script.shift() ?? 200;
    if (step === 'break') {
      req.socket.destroy();
      return;
    }
    const status = typeof step === 'number' ? step : step.status;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (typeof step === 'object') headers['retry-after'] = step.retryAfter;
    const ok = { model_name: 'm', outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: [1.5] }] };
    const error = {
      error: { code: status === 400 ? 'bad_request' : 'unavailable', message: `status ${status}` },
    };
    res.writeHead(status, headers).end(JSON.stringify(status === 200 ? ok : error));
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => answer(req, res, Buffer.concat(chunks).toString()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new MeridianClient({ baseUrl: url, edgeUrl: url, apiKey: 'mk_live_test' });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    script = [];
    seen = [];
  });

  const tensor = { name: 'x', datatype: 'FP32' as const, shape: [1], data: new Float32Array([1]) };
  const fast = { retryDelayMs: 1 };

  it('sends the call again after a broken connection, with the same key and body', async () => {
    script = ['break'];
    const out = await predict(client, 'm', [tensor], fast);
    expect(out.outputs[0]?.data).toEqual([1.5]);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.key).toBe(seen[0]?.key);
    expect(seen[1]?.body).toBe(seen[0]?.body);
  });

  it('retries 502, 503 and 504, then answers the 200', async () => {
    script = [502, 503, 504];
    await predict(client, 'm', [tensor], fast);
    expect(seen.map((s) => s.key)).toEqual(Array(4).fill(seen[0]?.key));
  });

  it('gives each call a key of its own, and sends the caller’s key as given', async () => {
    await predict(client, 'm', [tensor]);
    await predict(client, 'm', [tensor], { idempotencyKey: 'order-42:line.7' });
    expect(seen[0]?.key).not.toBe('order-42:line.7');
    expect(seen[1]?.key).toBe('order-42:line.7');
  });

  it('waits the Retry-After a 503 asks for', async () => {
    script = [{ status: 503, retryAfter: '1' }];
    await predict(client, 'm', [tensor], fast);
    expect(seen).toHaveLength(2);
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('does not retry a 400 or a 500: the same request would fail the same way', async () => {
    script = [400];
    await expect(predict(client, 'm', [tensor], fast)).rejects.toBeInstanceOf(BadRequestError);
    expect(seen).toHaveLength(1);
    script = [500];
    await expect(predict(client, 'm', [tensor], fast)).rejects.toBeInstanceOf(ServerError);
    expect(seen).toHaveLength(2);
  });

  it('stops after `retries` more attempts and throws what the last one met', async () => {
    script = [503, 503, 503];
    const err = await predict(client, 'm', [tensor], { ...fast, retries: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503 });
    expect(seen).toHaveLength(2);
    seen = [];
    script = ['break', 'break'];
    await expect(predict(client, 'm', [tensor], { ...fast, retries: 1 })).rejects.toBeInstanceOf(
      NetworkError,
    );
    expect(seen).toHaveLength(2);
    seen = [];
    script = [503];
    await expect(predict(client, 'm', [tensor], { retries: 0 })).rejects.toMatchObject({ status: 503 });
    expect(seen).toHaveLength(1);
  });

  it('stops waiting to retry as soon as the caller aborts', async () => {
    script = [{ status: 503, retryAfter: '5' }];
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('caller gave up')), 200);
    await expect(predict(client, 'm', [tensor], { signal: controller.signal })).rejects.toThrow(
      'caller gave up',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen).toHaveLength(1);
  });

  it('refuses a malformed key or retry count before sending anything', async () => {
    await expect(predict(client, 'm', [tensor], { idempotencyKey: 'has space' })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(predict(client, 'm', [tensor], { idempotencyKey: 'k'.repeat(256) })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(predict(client, 'm', [tensor], { retries: -1 })).rejects.toBeInstanceOf(TypeError);
    expect(seen).toHaveLength(0);
  });

  it('retries raw OIP bodies and the simple JSON predict the same way', async () => {
    script = ['break', 503];
    await predictRaw(client, `${client.edgeUrl}/v2/models/m/infer`, '{"inputs":[]}', {}, fast);
    script = [503];
    script.push(200);
    const simple = predictSimple(client, 'dep_1', { inputs: { x: [[1]] } }, fast);
    await expect(simple).resolves.toBeDefined();
    expect(seen.slice(0, 3).map((s) => s.key)).toEqual(Array(3).fill(seen[0]?.key));
    expect(seen.slice(3).map((s) => s.key)).toEqual(Array(2).fill(seen[3]?.key));
    expect(seen[3]?.key).not.toBe(seen[0]?.key);
  });
});
