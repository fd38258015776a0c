import type Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestDockerEngine, type TestDockerEngine } from './docker-engine.js';

// Two real dockerds side by side, as `npm test` runs them (its unit and end-to-end runs each start one).
// They share the host's default bridge, docker0; each gave its first container 172.17.0.2 when both handed
// out addresses from the whole 172.17.0.0/16, so a test's call to its own container reached the other
// engine's (CI: "Connection refused" from a busybox httpd that was listening). scripts/dockerd.sh now gives
// each engine a /24 of its own.
const engines: TestDockerEngine[] = [];
const containers: Docker.Container[] = [];

afterAll(async () => {
  for (const c of containers) await c.remove({ force: true }).catch(() => undefined);
  for (const e of engines) await e.stop();
}, 60_000);

describe('test docker engines on one host', () => {
  it('give their containers on the shared default bridge addresses no other engine gives', async () => {
    // One after the other: what counts is two engines up at once, and two starting at once on CI's loaded
    // two cores (beside the end-to-end run's engine) outlasted the 30 s a start is given.
    for (let i = 0; i < 2; i++) engines.push(await startTestDockerEngine());
    const addresses: string[] = [];
    for (const { docker } of engines) {
      const container = await docker.createContainer({
        Image: 'meridian-test/busybox:1',
        Cmd: ['sleep', '60'],
      });
      containers.push(container);
      await container.start();
      addresses.push((await container.inspect()).NetworkSettings.Networks.bridge?.IPAddress ?? '');
    }
    console.info('first containers of two engines:', addresses);
    for (const address of addresses) expect(address).toMatch(/^172\.17\.\d+\.\d+$/);
    expect(new Set(addresses).size).toBe(2);
  }, 150_000);
});
