import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { SigningKeyStore } from '../auth/signing-keys.js';
import type { Database } from '../db/client.js';
import type { AppEnv } from '../http/context.js';

/** Liveness with dependency checks, Prometheus metrics, and the JWKS for anyone verifying our tokens. */
export function systemRoutes({
  db,
  registry,
  signingKeys: keys,
}: {
  db: Database;
  registry: Registry;
  signingKeys: SigningKeyStore;
}) {
  return new Hono<AppEnv>()
    .get('/health', async (c) => {
      const started = performance.now();
      try {
        await db.run(sql`select 1`);
        return c.json({
          status: 'ok',
          checks: { database: { status: 'ok', latencyMs: performance.now() - started } },
        });
      } catch {
        return c.json({ status: 'degraded', checks: { database: { status: 'down' } } }, 503);
      }
    })
    .get('/metrics', async (c) =>
      c.text(await registry.metrics(), 200, { 'content-type': registry.contentType }),
    )
    .get('/.well-known/jwks.json', (c) =>
      c.json(keys.jwks(), 200, { 'cache-control': 'public, max-age=60' }),
    );
}
