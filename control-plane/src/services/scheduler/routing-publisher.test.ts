import type { RoutingSnapshot } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { RoutingPublishError, WorkersKvRoutingPublisher } from './routing-publisher.js';

// Cloudflare's API cannot be reached from here, so these tests inject a fetch that records each Request and
// answers as Cloudflare documents it does (the v4 envelope: `{success, errors[{code, message}], ...}`).

const TOKEN = 'cf-token-Sn3lZJTBX6kkg7OdcBUAxOO963GEIyGQ';

function snapshot(version: number): RoutingSnapshot {
  return {
    version,
    generatedAt: '2026-03-01T12:00:00Z',
    deployments: [
      {
        deploymentId: 'dep_1',
        orgId: 'org_1',
        name: 'sentiment',
        deterministic: true,
        versions: [
          {
            versionId: 'mdv_1',
            version: 1,
            weight: 100,
            replicas: [
              {
                workloadId: 'wl_1',
                agentId: 'agt_1',
                url: 'https://gpu-1.example.com:9090',
                keyGeneration: 1,
              },
            ],
          },
        ],
      },
    ],
  };
}

const ok = () => Response.json({ success: true, errors: [], messages: [], result: null });

function recorder(answer: (request: Request) => Response | Promise<Response> = ok) {
  const requests: Request[] = [];
  const fetch = async (...[input, init]: Parameters<typeof globalThis.fetch>) => {
    const request = new Request(input, init);
    requests.push(request);
    return answer(request);
  };
  return { requests, fetch };
}

async function versionsWritten(requests: Request[]): Promise<number[]> {
  const forms = await Promise.all(requests.map((r) => r.clone().formData()));
  return forms.map((f) => JSON.parse(String(f.get('metadata'))).version);
}

describe('WorkersKvRoutingPublisher', () => {
  it('PUTs the snapshot as the value with its version as metadata, bearing the token', async () => {
    const { requests, fetch } = recorder();
    const publisher = new WorkersKvRoutingPublisher({
      accountId: 'acc123',
      namespaceId: 'ns456',
      apiToken: TOKEN,
      key: 'routing/snapshot v2',
      apiBase: 'https://cf.example.com/client/v4/',
      fetch,
    });
    await publisher.publish(snapshot(7));

    expect(requests).toHaveLength(1);
    const [request] = requests;
    if (!request) throw new Error('no request');
    expect(request.method).toBe('PUT');
    expect(request.url).toBe(
      'https://cf.example.com/client/v4/accounts/acc123/storage/kv/namespaces/ns456/values/routing%2Fsnapshot%20v2',
    );
    expect(request.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(request.headers.get('content-type')).toMatch(/^multipart\/form-data; boundary=/);
    const form = await request.formData();
    expect(JSON.parse(String(form.get('value')))).toEqual(snapshot(7));
    expect(JSON.parse(String(form.get('metadata')))).toEqual({ version: 7 });
  });

  it('writes to the routing-snapshot key of the public API by default', async () => {
    const { requests, fetch } = recorder();
    await new WorkersKvRoutingPublisher({ accountId: 'a', namespaceId: 'n', apiToken: TOKEN, fetch }).publish(
      snapshot(1),
    );
    expect(requests[0]?.url).toBe(
      'https://api.cloudflare.com/client/v4/accounts/a/storage/kv/namespaces/n/values/routing-snapshot',
    );
  });

  it('skips a version older than or equal to one it already wrote', async () => {
    const { requests, fetch } = recorder();
    const publisher = new WorkersKvRoutingPublisher({
      accountId: 'a',
      namespaceId: 'n',
      apiToken: TOKEN,
      fetch,
    });
    await publisher.publish(snapshot(5));
    await publisher.publish(snapshot(4));
    await publisher.publish(snapshot(5));
    await publisher.publish(snapshot(6));
    expect(await versionsWritten(requests)).toEqual([5, 6]);
  });

  it('lets no slow older write land after a newer one', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { requests, fetch } = recorder(async () => {
      if (requests.length === 1) await held;
      return ok();
    });
    const publisher = new WorkersKvRoutingPublisher({
      accountId: 'a',
      namespaceId: 'n',
      apiToken: TOKEN,
      fetch,
    });
    const first = publisher.publish(snapshot(5));
    const second = publisher.publish(snapshot(6));
    const stale = publisher.publish(snapshot(4));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Version 6 waits for version 5's answer instead of racing it.
    expect(requests).toHaveLength(1);
    release();
    await Promise.all([first, second, stale]);
    expect(await versionsWritten(requests)).toEqual([5, 6]);
  });

  it('throws the status and Cloudflare error messages, never the token, and retries the version later', async () => {
    let status = 403;
    const { requests, fetch } = recorder(() =>
      status === 200
        ? ok()
        : Response.json(
            {
              success: false,
              errors: [{ code: 10000, message: `Authentication error for ${TOKEN}` }],
              messages: [],
              result: null,
            },
            { status },
          ),
    );
    const publisher = new WorkersKvRoutingPublisher({
      accountId: 'a',
      namespaceId: 'n',
      apiToken: TOKEN,
      fetch,
    });
    const error = await publisher.publish(snapshot(3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RoutingPublishError);
    expect(error).toMatchObject({ status: 403 });
    expect(String((error as Error).message)).toBe(
      'Workers KV refused routing snapshot 3 with 403: Authentication error for [redacted] (code 10000)',
    );
    status = 200;
    await publisher.publish(snapshot(3));
    expect(await versionsWritten(requests)).toEqual([3, 3]);
  });

  it('reports an answer that is not Cloudflare JSON by its status', async () => {
    const { fetch } = recorder(() => new Response('<html>502 Bad Gateway</html>', { status: 502 }));
    const publisher = new WorkersKvRoutingPublisher({
      accountId: 'a',
      namespaceId: 'n',
      apiToken: TOKEN,
      fetch,
    });
    await expect(publisher.publish(snapshot(1))).rejects.toThrow(
      'Workers KV refused routing snapshot 1 with 502: the answer was not Cloudflare JSON',
    );
  });

  it('reports a write that got no answer without the token, and keeps publishing afterwards', async () => {
    let fail = true;
    const { requests, fetch } = recorder((request) => {
      if (fail) throw new TypeError(`fetch failed (${request.headers.get('authorization')})`);
      return ok();
    });
    const publisher = new WorkersKvRoutingPublisher({
      accountId: 'a',
      namespaceId: 'n',
      apiToken: TOKEN,
      fetch,
    });
    const error = await publisher.publish(snapshot(2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RoutingPublishError);
    expect(error).toMatchObject({ status: undefined });
    expect((error as Error).message).not.toContain(TOKEN);
    expect((error as Error).message).toContain('got no answer: fetch failed');
    fail = false;
    await publisher.publish(snapshot(2));
    expect(requests).toHaveLength(2);
  });
});
