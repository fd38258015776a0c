import { type StripeReply, stripeError } from './errors.js';

interface Saved {
  fingerprint: string;
  /** undefined while the first request with the key is still running. */
  reply: StripeReply | undefined;
}

/**
 * Stripe's idempotency layer for POSTs: the first request with a key claims it; once its endpoint ran, the
 * answer (a success or a 500) is saved and replayed to every later request with the key and the same
 * parameters. Other parameters, or a request while the first still runs, get an idempotency_error.
 */
export class IdempotencyKeys {
  private readonly saved = new Map<string, Saved>();

  /** Either the answer to give now (`replayed` when it is the saved one), or undefined: the key is claimed. */
  claim(key: string, fingerprint: string): { reply: StripeReply; replayed: boolean } | undefined {
    const saved = this.saved.get(key);
    if (!saved) {
      this.saved.set(key, { fingerprint, reply: undefined });
      return undefined;
    }
    if (!saved.reply) {
      const message = `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`;
      return { reply: stripeError(409, 'idempotency_error', message), replayed: false };
    }
    if (saved.fingerprint !== fingerprint) {
      const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
      return { reply: stripeError(400, 'idempotency_error', message), replayed: false };
    }
    return { reply: saved.reply, replayed: true };
  }

  /** Saves the answer of an endpoint that ran (2xx, 5xx); a request rejected before running frees the key. */
  settle(key: string, reply: StripeReply): void {
    const saved = this.saved.get(key);
    if (!saved) return;
    if (reply.status < 300 || reply.status >= 500) saved.reply = reply;
    else this.saved.delete(key);
  }
}
