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

  it("reads the autoscaler's windows, Knative's 60 s and 6 s by default, the panic one never past the stable one", () => {
    expect(loadConfig({}).scheduler.scaleWindows).toEqual({
      stableMs: 60_000,
      panicMs: 6_000,
      panicThreshold: 2,
    });
    const short = loadConfig({
      MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: '4',
      MERIDIAN_AUTOSCALER_PANIC_WINDOW_SECONDS: '10',
    });
    expect(short.scheduler.scaleWindows).toMatchObject({ stableMs: 4_000, panicMs: 4_000 });
    expect(() => loadConfig({ MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: '0' })).toThrow(
      /MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS/,
    );
  });

  it('refuses a short edge service token', () => {
    expect(() => loadConfig({ MERIDIAN_EDGE_SERVICE_TOKEN: 'short' })).toThrow(/MERIDIAN_EDGE_SERVICE_TOKEN/);
  });

  it('reads every login and password-work threshold, with the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      throttle: {
        windowMs: 900_000,
        pairMaxFailures: 5,
        accountFreeFailures: 10,
        clientFreeFailures: 30,
        baseDelayMs: 1_000,
        maxDelayMs: 60_000,
        registrationsPerClient: 10,
        registrationWindowMs: 3_600_000,
      },
      passwordWork: { concurrency: 2, maxQueuedChecks: 64, maxQueuedHashes: 16 },
      signingKeyKekPrevious: [],
    });
    const tuned = loadConfig({
      MERIDIAN_AUTH_PAIR_MAX_FAILURES: '3',
      MERIDIAN_AUTH_MAX_DELAY_MS: '5000',
      MERIDIAN_PASSWORD_CONCURRENCY: '4',
      MERIDIAN_SIGNING_KEY_KEK_PREVIOUS: 'a, b',
    });
    expect(tuned.throttle).toMatchObject({ pairMaxFailures: 3, maxDelayMs: 5_000 });
    expect(tuned.passwordWork.concurrency).toBe(4);
    expect(tuned.signingKeyKekPrevious).toEqual(['a', 'b']);
    expect(() => loadConfig({ MERIDIAN_AUTH_PAIR_MAX_FAILURES: '0x5' })).toThrow(
      /MERIDIAN_AUTH_PAIR_MAX_FAILURES/,
    );
  });

  it('says the range of a whole number out of it, and the format of one not in decimal digits', () => {
    const range = 'a whole number from 1 to 1,000,000,000';
    for (const value of ['0', '1000000001', '99999999999'])
      expect(() => loadConfig({ MERIDIAN_PASSWORD_CONCURRENCY: value }), value).toThrow(
        `MERIDIAN_PASSWORD_CONCURRENCY: ${range}`,
      );
    expect(() => loadConfig({ MERIDIAN_PASSWORD_CONCURRENCY: '1e3' })).toThrow(
      'MERIDIAN_PASSWORD_CONCURRENCY: a whole number in decimal digits',
    );
  });
});
