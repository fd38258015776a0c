import { env } from 'cloudflare:workers';
import type { Env } from '../../src/env.js';

export const CONTROL_PLANE_URL = 'http://control-plane.test';

/**
 * The Worker's real bindings (KV, the org limiter) with test settings on top. `cloudflare:workers` types
 * `env` as the empty Cloudflare.Env, hence the one cast.
 */
export function testEnv(overrides: Partial<Env> = {}): Env {
  return {
    ...(env as unknown as Env),
    CONTROL_PLANE_URL,
    EDGE_SERVICE_TOKEN: 'edge-test-token',
    KEY_CACHE_SECONDS: '10',
    KEY_KV_FRESH_SECONDS: '20',
    ...overrides,
  };
}
