import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import type { RoutingSnapshot, WakeAnswer } from '@meridian/protocol';
import { vi } from 'vitest';
import { createEdgeApp } from '../../src/app.js';
import type { Env } from '../../src/env.js';
import { bearer } from './auth-app.js';
import { CONTROL_PLANE_URL, testEnv } from './auth-env.js';
import { FakeControlPlane } from './auth-fake-control-plane.js';
import { json, SIGNING_KEY, snapshot } from './routing-fixtures.js';

/** A wake request as the control plane received it. */
export interface SeenWake {
  deploymentId: string;
  held: number;
  waitMs: number;
}

/**
 * The edge app as the Worker serves it, in front of a fake control plane (keys and orgs as
 * FakeControlPlane has them, routing `routing`, wakes answered by `onWake`) and agents (`agents`, by
 * origin), all behind one stubbed fetch (a Worker cannot listen). Routing is pulled on every request
 * (ROUTING_REFRESH_SECONDS 0), so each test's deployments are found in the isolate's shared table.
 */
export class OipWorld {
  readonly cp = new FakeControlPlane();
  readonly app = createEdgeApp();
  readonly env: Env = testEnv({ DATA_PLANE_SIGNING_KEY: SIGNING_KEY, ROUTING_REFRESH_SECONDS: '0' });
  routing: RoutingSnapshot = snapshot(1, []);
  readonly wakes: SeenWake[] = [];
  onWake: (wake: SeenWake) => WakeAnswer | Promise<WakeAnswer> = () => ({ state: 'starting' });
  agents: Record<string, (request: Request) => Response> = {};
  /** Paths (with the origin) each agent was asked for. */
  readonly agentCalls: string[] = [];

  install(): this {
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      if (url.origin === CONTROL_PLANE_URL && url.pathname === '/internal/v1/routing')
        return json(this.routing);
      const wake = /^\/internal\/v1\/deployments\/([^/]+)\/wake$/.exec(url.pathname);
      if (url.origin === CONTROL_PLANE_URL && wake) {
        const { held } = (await request.json()) as { held: number };
        const seen = {
          deploymentId: decodeURIComponent(wake[1] ?? ''),
          held,
          waitMs: Number(url.searchParams.get('waitMs')),
        };
        this.wakes.push(seen);
        return json(await this.onWake(seen));
      }
      if (url.origin === CONTROL_PLANE_URL) return this.cp.fetch(request);
      const agent = this.agents[url.origin];
      if (!agent) throw new TypeError('Network connection lost.');
      this.agentCalls.push(request.url);
      return agent(request);
    });
    return this;
  }

  /** GET `path` with `key`; `settled` waits for what the request left running in the background. */
  async get(path: string, key: string): Promise<{ res: Response; settled: () => Promise<void> }> {
    const ctx = createExecutionContext();
    const res = await this.app.request(path, { headers: bearer(key) }, this.env, ctx);
    return { res, settled: () => waitOnExecutionContext(ctx) };
  }
}
