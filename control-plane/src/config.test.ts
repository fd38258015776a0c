import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('runs with no environment at all on 127.0.0.1:8080 and a libsql file under .data', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      dataDir: '.data',
      databaseUrl: 'file:.data/control-plane.db',
      accessTokenTtlSeconds: 900,
      trustProxy: false,
    });
  });

  it('names every bad variable in one error', () => {
    expect(() => loadConfig({ MERIDIAN_PORT: 'eighty', MERIDIAN_LOG_LEVEL: 'loud' })).toThrow(
      /MERIDIAN_PORT[\s\S]*MERIDIAN_LOG_LEVEL/,
    );
  });

  it('refuses a short edge service token', () => {
    expect(() => loadConfig({ MERIDIAN_EDGE_SERVICE_TOKEN: 'short' })).toThrow(/MERIDIAN_EDGE_SERVICE_TOKEN/);
  });
});
