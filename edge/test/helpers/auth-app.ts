import { Hono } from 'hono';
import { authenticate } from '../../src/auth/authenticate.js';
import type { Caller, EdgeVariables } from '../../src/caller.js';
import type { Env } from '../../src/env.js';
import { EdgeError, respondWithError } from '../../src/errors.js';

type AppEnv = { Bindings: Env; Variables: EdgeVariables };

/**
 * A route behind `authenticate()` that answers with the caller it set, with the edge's error mapping
 * (EdgeError → envelope + its headers). Built here so auth tests do not depend on the routes being written.
 */
export function whoAmIApp(options?: Parameters<typeof authenticate>[0]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/whoami', authenticate(options), (c) => c.json(c.var.caller));
  app.onError((err, c) => {
    if (!(err instanceof EdgeError)) throw err;
    const res = respondWithError(c, err.code, err.message, 'test-request');
    for (const [name, value] of Object.entries(err.headers)) res.headers.set(name, value);
    return res;
  });
  return app;
}

/** GET /whoami with the given headers under `env`; the caller on 200. */
export async function whoAmI(
  app: Hono<AppEnv>,
  env: Env,
  init: { headers?: Record<string, string>; query?: string } = {},
): Promise<{ status: number; caller?: Caller; body: unknown; headers: Headers }> {
  const res = await app.request(`/whoami${init.query ?? ''}`, { headers: init.headers ?? {} }, env);
  const body: unknown = await res.json();
  return res.status === 200
    ? { status: res.status, caller: body as Caller, body, headers: res.headers }
    : { status: res.status, body, headers: res.headers };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
