import { type StripeReply, stripeError } from './errors.js';

/** How long Stripe keeps a key at least; it documents pruning keys once they are at least 24 hours old. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3_600_000;

interface Saved {
  fingerprint: string;
  /** undefined while the first request with the key is still running. */
  reply: StripeReply | undefined;
  /** When the first request with the key arrived (ms, on the server's clock). */
  at: number;
}

/**
 * Stripe's idempotency layer for POSTs: the first request with a key claims it; once its endpoint ran, the
 * answer (a success or a 500) is saved and replayed to every later request with the key and the same
 * parameters. Other parameters, or a request while the first still runs, get an idempotency_error. A key 24
 * hours old is pruned, as Stripe prunes it: a request reusing it then runs as a new one.
 */
export class IdempotencyKeys {
  private readonly saved = new Map<string, Saved>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Either the answer to give now (`replayed` when it is the saved one), or undefined: the key is claimed. */
  claim(key: string, fingerprint: string): { reply: StripeReply; replayed: boolean } | undefined {
    const now = this.clock();
    const found = this.saved.get(key);
    const saved = found && now - found.at < IDEMPOTENCY_KEY_TTL_MS ? found : undefined;
    if (!saved) {
      this.saved.set(key, { fingerprint, reply: undefined, at: now });
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
