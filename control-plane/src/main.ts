import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { SigningKeyStore } from './auth/signing-keys.js';
import { loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { createLogger } from './lib/logger.js';
import { randomSecret } from './lib/secrets.js';

/** The edge's credential: from the environment, else one generated once into the data dir for local runs. */
function edgeServiceToken(dataDir: string, configured: string | undefined): string {
  if (configured) return configured;
  const file = join(dataDir, 'edge-service-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomSecret(32);
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
mkdirSync(config.dataDir, { recursive: true });
const { db, close } = await openDatabase(config.databaseUrl, config.databaseAuthToken);
const signingKeys = new SigningKeyStore(db, config.accessTokenTtlSeconds * 1000);
await signingKeys.init();

const app = createApp({
  db,
  logger,
  signingKeys,
  issuer: config.publicUrl,
  accessTokenTtlSeconds: config.accessTokenTtlSeconds,
  refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
  edgeServiceToken: edgeServiceToken(config.dataDir, config.edgeServiceToken),
  maxBodyBytes: config.maxBodyBytes,
  trustProxy: config.trustProxy,
  collectDefaultMetrics: true,
});

const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) =>
  logger.info('control plane listening', {
    url: `http://${info.address}:${info.port}`,
    database: config.databaseUrl.split('?')[0],
  }),
);

function shutdown(signal: string) {
  logger.info('shutting down', { signal });
  server.close(() => {
    close();
    process.exit(0);
  });
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
