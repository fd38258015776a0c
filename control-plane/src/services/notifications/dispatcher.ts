import { and, eq, lte } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { notificationAttempts, notificationChannels, notificationDeliveries } from '../../db/schema.js';
import type { Logger } from '../../lib/logger.js';
import { MAIL_NOT_TAKEN, type SmtpMailer } from './email.js';
import { type AttemptResult, postWebhook } from './webhook.js';

export interface DispatchSettings {
  allowPrivate: boolean;
  timeoutMs: number;
  /** First retry delay; each later one doubles, ±20 % jitter. */
  retryBaseMs: number;
  maxAttempts: number;
  mailer?: SmtpMailer;
  /** The operator's log: the SMTP server's own error for a mail it did not take goes here, not to the org. */
  logger?: Logger;
}

/** Deliveries attempted together in one pass: a slow target holds one slot, never the others. */
const PARALLEL = 16;

type Delivery = typeof notificationDeliveries.$inferSelect;

/** The delay before attempt `attempt + 1` after `attempt` failed. */
export function retryDelayMs(attempt: number, baseMs: number, random = Math.random): number {
  const delay = baseMs * 2 ** Math.min(attempt - 1, 16);
  return Math.round(Math.min(delay, 3_600_000) * (0.8 + 0.4 * random()));
}

/**
 * Attempts every delivery that is due, PARALLEL at a time, each bounded by the timeout. A delivery is claimed
 * before its attempt (its next attempt moved past the timeout), so a later pass never sends it twice.
 */
export async function dispatchDue(
  db: Database,
  settings: DispatchSettings,
  now = Date.now(),
): Promise<number> {
  const due = await db
    .select()
    .from(notificationDeliveries)
    .where(
      and(
        eq(notificationDeliveries.status, 'pending'),
        lte(notificationDeliveries.nextAttemptAt, new Date(now)),
      ),
    )
    .orderBy(notificationDeliveries.nextAttemptAt)
    .limit(PARALLEL);
  await Promise.allSettled(due.map((d) => attemptDelivery(db, d, settings)));
  return due.length;
}

/** One attempt of one delivery, logged; then delivered, failed for good, or rescheduled with backoff. */
export async function attemptDelivery(
  db: Database,
  delivery: Delivery,
  settings: DispatchSettings,
): Promise<AttemptResult> {
  const attempt = delivery.attempts + 1;
  const claimUntil = new Date(Date.now() + settings.timeoutMs + 5_000);
  await db
    .update(notificationDeliveries)
    .set({ attempts: attempt, nextAttemptAt: claimUntil })
    .where(eq(notificationDeliveries.id, delivery.id));
  const started = Date.now();
  const result = await send(db, delivery, attempt, settings);
  const durationMs = Date.now() - started;
  const final = result.ok || attempt >= settings.maxAttempts;
  await db.transaction(async (tx) => {
    await tx.insert(notificationAttempts).values({
      deliveryId: delivery.id,
      attempt,
      at: new Date(started),
      ok: result.ok,
      httpStatus: result.httpStatus,
      error: result.error?.slice(0, 500) ?? null,
      durationMs,
    });
    await tx
      .update(notificationDeliveries)
      .set({
        status: result.ok ? 'delivered' : final ? 'failed' : 'pending',
        nextAttemptAt: new Date(Date.now() + (final ? 0 : retryDelayMs(attempt, settings.retryBaseMs))),
      })
      .where(eq(notificationDeliveries.id, delivery.id));
  });
  return result;
}

async function send(
  db: Database,
  delivery: Delivery,
  attempt: number,
  settings: DispatchSettings,
): Promise<AttemptResult> {
  const [channel] = await db
    .select()
    .from(notificationChannels)
    .where(eq(notificationChannels.id, delivery.channelId));
  if (!channel) return { ok: false, httpStatus: null, error: 'the channel was deleted' };
  if (channel.kind === 'webhook') {
    return postWebhook(
      channel.target,
      channel.secret,
      delivery.payload,
      { 'meridian-delivery': delivery.id, 'meridian-attempt': String(attempt) },
      { allowPrivate: settings.allowPrivate, timeoutMs: settings.timeoutMs },
    );
  }
  if (!settings.mailer)
    return { ok: false, httpStatus: null, error: 'no SMTP server is configured (MERIDIAN_SMTP_HOST)' };
  const { subject, text } = mailFor(delivery.payload);
  const result = await settings.mailer.send(channel.target, subject, text);
  if (result.ok) return result;
  // The delivery log is the org's to read (and the test answer a member's): the server's words, naming the
  // platform's mail hosts and policy, go to the operator's log instead.
  settings.logger?.warn('notification mail not sent', {
    deliveryId: delivery.id,
    channelId: channel.id,
    orgId: channel.orgId,
    error: result.error ?? 'unknown error',
  });
  return { ...result, error: MAIL_NOT_TAKEN };
}

/** The subject and text of a notification mail: the rule, its condition and the figure that moved it. */
export function mailFor(payload: string): { subject: string; text: string } {
  const p = JSON.parse(payload) as {
    type: string;
    value?: number | null;
    rule?: {
      name: string;
      metric: string;
      threshold: number;
      windowSeconds: number;
      deploymentId?: string | null;
      deploymentName?: string | null;
    };
  };
  if (!p.rule)
    return { subject: '[Meridian] Test notification', text: 'This is a test notification from Meridian.' };
  const state = p.type === 'alert.resolved' ? 'RESOLVED' : 'FIRING';
  const op = p.rule.metric === 'ready_replicas' ? '<' : '>';
  // By name, as the reader knows it; the id only when the deployment is gone.
  const deployment = p.rule.deploymentName ?? p.rule.deploymentId ?? null;
  return {
    subject: `[Meridian] ${state}: ${p.rule.name}${deployment ? ` on ${deployment}` : ''}`,
    text: [
      `Alert rule "${p.rule.name}" is ${state.toLowerCase()}.`,
      `Deployment: ${deployment ?? 'every deployment of the organisation'}`,
      `Condition: ${p.rule.metric} ${op} ${p.rule.threshold} over ${p.rule.windowSeconds} s`,
      `Value: ${p.value ?? 'none'}`,
    ].join('\n'),
  };
}
