import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('Stripe configuration', () => {
  it('pushes nothing to Stripe without a secret key, and takes no webhooks without a signing secret', () => {
    const config = loadConfig({});
    expect(config.stripe).toBeUndefined();
    expect(config.stripeWebhookSecret).toBeUndefined();
  });

  it('reads the key, a Stripe-compatible URL, the push interval and the grace after each hour', () => {
    const config = loadConfig({
      MERIDIAN_STRIPE_SECRET_KEY: 'sk_test_abc123',
      MERIDIAN_STRIPE_API_URL: 'http://127.0.0.1:12111',
      MERIDIAN_STRIPE_WEBHOOK_SECRET: 'whsec_abc',
      MERIDIAN_STRIPE_PUSH_INTERVAL_MS: '500',
      MERIDIAN_STRIPE_WINDOW_GRACE_SECONDS: '2',
    });
    expect(config.stripe).toEqual({
      secretKey: 'sk_test_abc123',
      apiUrl: 'http://127.0.0.1:12111',
      timeoutMs: 30_000,
      pushIntervalMs: 500,
      windowGraceMs: 2_000,
    });
    expect(config.stripeWebhookSecret).toBe('whsec_abc');
  });

  it('defaults to a push a minute, five minutes after each hour ends, against api.stripe.com', () => {
    expect(loadConfig({ MERIDIAN_STRIPE_SECRET_KEY: 'rk_live_xyz' }).stripe).toMatchObject({
      apiUrl: undefined,
      pushIntervalMs: 60_000,
      windowGraceMs: 300_000,
    });
  });

  it('refuses a publishable key, an API URL with a path, and an API URL without a key', () => {
    expect(() => loadConfig({ MERIDIAN_STRIPE_SECRET_KEY: 'pk_test_abc' })).toThrow(
      /MERIDIAN_STRIPE_SECRET_KEY/,
    );
    expect(() =>
      loadConfig({
        MERIDIAN_STRIPE_SECRET_KEY: 'sk_test_abc',
        MERIDIAN_STRIPE_API_URL: 'http://127.0.0.1:1/v1',
      }),
    ).toThrow(/MERIDIAN_STRIPE_API_URL/);
    expect(() => loadConfig({ MERIDIAN_STRIPE_API_URL: 'http://127.0.0.1:12111' })).toThrow(
      /MERIDIAN_STRIPE_SECRET_KEY: required when MERIDIAN_STRIPE_API_URL is set/,
    );
  });
});
