import { z } from 'zod';
import type { DriftSettings } from '../drift/ingest-drift.js';
import type { SmtpSettings } from '../notifications/email.js';

const Bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const Int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const Env = z.object({
  MERIDIAN_WEBHOOK_ALLOW_PRIVATE: Bool.default(false),
  MERIDIAN_WEBHOOK_TIMEOUT_MS: Int(100, 60_000).default(5_000),
  MERIDIAN_WEBHOOK_RETRY_BASE_MS: Int(10, 3_600_000).default(5_000),
  MERIDIAN_WEBHOOK_MAX_ATTEMPTS: Int(1, 20).default(6),
  MERIDIAN_ALERT_EVALUATE_SECONDS: z.coerce.number().min(0.2).max(3600).default(15),
  MERIDIAN_DRIFT_REFERENCE_SAMPLES: Int(10, 10_000_000).default(1_000),
  MERIDIAN_DRIFT_WINDOW_SECONDS: Int(60, 366 * 86_400).default(3_600),
  MERIDIAN_SMTP_HOST: z.string().min(1).optional(),
  MERIDIAN_SMTP_PORT: Int(1, 65535).default(587),
  MERIDIAN_SMTP_SECURE: Bool.default(false),
  MERIDIAN_SMTP_USER: z.string().optional(),
  MERIDIAN_SMTP_PASSWORD: z.string().optional(),
  MERIDIAN_SMTP_FROM: z.string().min(3).default('Meridian <alerts@meridian.localhost>'),
});

export interface MonitoringConfig {
  allowPrivateWebhooks: boolean;
  webhookTimeoutMs: number;
  retryBaseMs: number;
  maxAttempts: number;
  evaluateIntervalMs: number;
  smtp?: SmtpSettings;
  drift: DriftSettings;
}

/** Monitoring settings from the environment (MERIDIAN_WEBHOOK_*, MERIDIAN_ALERT_*, MERIDIAN_DRIFT_*, MERIDIAN_SMTP_*). */
export function monitoringConfig(env: Record<string, string | undefined>): MonitoringConfig {
  const e = Env.parse(env);
  return {
    allowPrivateWebhooks: e.MERIDIAN_WEBHOOK_ALLOW_PRIVATE,
    webhookTimeoutMs: e.MERIDIAN_WEBHOOK_TIMEOUT_MS,
    retryBaseMs: e.MERIDIAN_WEBHOOK_RETRY_BASE_MS,
    maxAttempts: e.MERIDIAN_WEBHOOK_MAX_ATTEMPTS,
    evaluateIntervalMs: Math.round(e.MERIDIAN_ALERT_EVALUATE_SECONDS * 1000),
    drift: {
      referenceSamples: e.MERIDIAN_DRIFT_REFERENCE_SAMPLES,
      windowSeconds: e.MERIDIAN_DRIFT_WINDOW_SECONDS,
    },
    ...(e.MERIDIAN_SMTP_HOST
      ? {
          smtp: {
            host: e.MERIDIAN_SMTP_HOST,
            port: e.MERIDIAN_SMTP_PORT,
            secure: e.MERIDIAN_SMTP_SECURE,
            ...(e.MERIDIAN_SMTP_USER ? { user: e.MERIDIAN_SMTP_USER } : {}),
            ...(e.MERIDIAN_SMTP_PASSWORD ? { password: e.MERIDIAN_SMTP_PASSWORD } : {}),
            from: e.MERIDIAN_SMTP_FROM,
            timeoutMs: e.MERIDIAN_WEBHOOK_TIMEOUT_MS,
          },
        }
      : {}),
  };
}
