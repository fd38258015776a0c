import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTokenStore, MeridianClient, tokensFrom } from '@meridian/sdk';
import { freePort } from './ports.js';
import { type RunningService, startPatientControlPlane } from './stack.js';
import { startTcpProxy } from './tcp-proxy.js';

export const SDK_USER_PASSWORD = 'correct horse battery';

/**
 * A real control plane process reached through a TCP proxy, which is its public URL (presigned part URLs
 * go through it too) and can take the network away. `dir` holds its data; `stop` removes it.
 */
export async function startProxiedControlPlane(prefix: string, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const cpPort = await freePort();
  const proxy = await startTcpProxy(await freePort(), cpPort);
  let cp: RunningService | undefined;
  const stop = async () => {
    await proxy.close();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    cp = await startPatientControlPlane(
      join(dir, 'cp'),
      { MERIDIAN_PUBLIC_URL: proxy.url, MERIDIAN_AUTH_REGISTRATIONS_PER_ADDRESS: '1000', ...env },
      cpPort,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, cp, proxy, stop };
}

/**
 * A new account at `baseUrl`, and an SDK client holding its login. `calls` lists its requests as
 * `METHOD /path`; one whose connection broke is listed again as `failed METHOD /path` (the SDK sends an
 * idempotent one once more).
 */
export async function newSdkUser(baseUrl: string, name: string) {
  const calls: string[] = [];
  const counting: typeof fetch = (input, init) => {
    const call = `${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`;
    calls.push(call);
    return fetch(input, init).catch((err: unknown) => {
      calls.push(`failed ${call}`);
      throw err;
    });
  };
  const email = `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const created = await new MeridianClient({ baseUrl }).request('post', '/v1/auth/register', {
    body: { email, password: SDK_USER_PASSWORD, name },
  });
  const store = new MemoryTokenStore(tokensFrom(created));
  const client = new MeridianClient({ baseUrl, tokens: store, fetch: counting });
  return { client, store, calls, email, orgId: created.org.id };
}
