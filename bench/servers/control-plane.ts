import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from '../../control-plane/src/app.js';
import { SigningKeyStore } from '../../control-plane/src/auth/signing-keys.js';
import { loadConfig } from '../../control-plane/src/config.js';
import { openDatabase } from '../../control-plane/src/db/client.js';
import { createLogger } from '../../control-plane/src/lib/logger.js';
import { randomSecret } from '../../control-plane/src/lib/secrets.js';
import { FsObjectStore } from '../../control-plane/src/storage/fs-store.js';
import { announceReady } from './ready.js';

/**
 * The control plane composed as main.ts composes it (default config, info access log to stdout, default
 * metrics, production scrypt), on a libsql file in a temp dir, with one registered user whose access
 * token the parent sends to GET /v1/auth/me.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-'));
const config = loadConfig({
  MERIDIAN_DATA_DIR: dataDir,
  MERIDIAN_PORT: '0',
  MERIDIAN_LOG_LEVEL: process.env.MERIDIAN_LOG_LEVEL,
});
const { db, close } = await openDatabase(config.databaseUrl);
const signingKeys = new SigningKeyStore(db, config.accessTokenTtlSeconds * 1000);
await signingKeys.init();
const app = createApp({
  db,
  logger: createLogger(config.logLevel),
  signingKeys,
  issuer: config.publicUrl,
  accessTokenTtlSeconds: config.accessTokenTtlSeconds,
  refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
  edgeServiceToken: randomSecret(32),
  operatorToken: randomSecret(32),
  dataPlaneSigningKey: randomSecret(32),
  maxBodyBytes: config.maxBodyBytes,
  trustProxy: config.trustProxy,
  collectDefaultMetrics: true,
  objectStore: new FsObjectStore(join(dataDir, 'objects'), {
    publicUrl: config.publicUrl,
    signingSecret: randomSecret(32),
  }),
});

const registered = await app.request('/v1/auth/register', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'bench@example.com', password: 'correct horse battery', name: 'bench' }),
});
if (registered.status !== 201)
  throw new Error(`register failed: ${registered.status} ${await registered.text()}`);
const { accessToken } = (await registered.json()) as { accessToken: string };

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
  announceReady(info, { authorization: `Bearer ${accessToken}` }),
);

process.on('SIGTERM', () => {
  server.close(() => {
    close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});
