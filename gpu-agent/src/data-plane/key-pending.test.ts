import { REPLICA_DOWN_HEADER } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataPlaneListener } from './listener.js';
import { InferenceMetrics } from './metrics.js';
import { staticRegistry } from './models.js';
import { edgeHeaders, listen } from './testing/server.js';

const KEY = new TextEncoder().encode('k'.repeat(32));
const TARGET = '/v2/models/dep_pending/infer';
let known: Uint8Array | undefined;
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  server = await listen(
    createDataPlaneListener({
      models: staticRegistry([]),
      metrics: new InferenceMetrics(),
      signingKey: () => known,
      // The agent's own rule (agent.ts): pending until its first key is known.
      keyPending: () => known === undefined,
    }),
  );
});
afterAll(() => server.close());

const call = () => {
  const body = new TextEncoder().encode('{"inputs":[]}');
  const headers = edgeHeaders(KEY, { method: 'POST', target: TARGET, body, deploymentId: 'dep_pending' });
  return fetch(server.url + TARGET, { method: 'POST', headers, body });
};

describe('a data plane that has no key yet (an agent starting, before it registers)', () => {
  it('answers signed calls as a replica that is down, so the edge holds them, and 401 once it knows its key', async () => {
    const starting = await call();
    expect(starting.status).toBe(503);
    expect(starting.headers.get(REPLICA_DOWN_HEADER)).toBe('1');
    expect(starting.headers.get('retry-after')).toBe('1');
    expect(((await starting.json()) as { error: string }).error).toMatch(/starting/);

    // Once a key is known, a generation it does not have is refused as before.
    known = new TextEncoder().encode('o'.repeat(32));
    const wrongKey = await call();
    expect(wrongKey.status).toBe(401);
    expect(((await wrongKey.json()) as { error: string }).error).toBe('bad edge signature');
  });
});
