import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { hostOf, isForbiddenAddress } from './address-policy.js';

/** The header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'meridian-signature';

/** Signs a payload the documented way (README: "Webhook signatures"). */
export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export interface WebhookOptions {
  /** Loopback, private and link-local targets are refused unless this is set. */
  allowPrivate: boolean;
  timeoutMs: number;
}

export interface AttemptResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
}

/**
 * A DNS lookup that answers only allowed addresses: a name that resolves to a forbidden one fails here,
 * before any connection, and the connection uses exactly the address checked (no second resolution that a
 * rebinding DNS server could answer differently).
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = (addresses as unknown as LookupAddress[]).filter(
        (a) => allowPrivate || !isForbiddenAddress(a.address),
      );
      const first = list[0];
      if (!first) {
        const refused = Object.assign(new Error(`${hostname} resolves only to refused addresses`), {
          code: 'EREFUSEDADDRESS',
        });
        return callback(refused, '', 0);
      }
      if ((options as { all?: boolean }).all) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
        return;
      }
      callback(null, first.address, first.family);
    });
  };
}

/**
 * POSTs a signed JSON body to a webhook and says how it went. The target address is checked where the
 * connection is made: a literal IP before connecting, a name through the guarded lookup, and the socket's
 * remote address once connected. The whole attempt (connect, answer, body) is bounded by `timeoutMs`.
 */
export function postWebhook(
  target: string,
  secret: string,
  body: string,
  headers: Record<string, string>,
  options: WebhookOptions,
): Promise<AttemptResult> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return Promise.resolve({ ok: false, httpStatus: null, error: 'invalid URL' });
  }
  const literal = hostOf(url);
  if (isIP(literal) && !options.allowPrivate && isForbiddenAddress(literal)) {
    return Promise.resolve({
      ok: false,
      httpStatus: null,
      error: `refused: ${literal} is not a public address`,
    });
  }
  const signature = signWebhook(secret, body, Math.floor(Date.now() / 1000));
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = client.request(url, {
      method: 'POST',
      lookup: guardedLookup(options.allowPrivate),
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': 'Meridian-Webhooks/1',
        [SIGNATURE_HEADER]: signature,
        ...headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, httpStatus: null, error: `timed out after ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    req.on('socket', (socket: Socket) => {
      socket.once('connect', () => {
        const remote = socket.remoteAddress ?? '';
        if (!options.allowPrivate && isForbiddenAddress(remote)) {
          req.destroy();
          finish({
            ok: false,
            httpStatus: null,
            error: `refused: connected address ${remote} is not public`,
          });
        }
      });
    });
    req.on('response', (res) => {
      // Only the status matters; the answer is read (and dropped) so the connection ends cleanly.
      res.resume();
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        finish({
          ok: status >= 200 && status < 300,
          httpStatus: status,
          error: status < 300 ? null : `answered ${status}`,
        });
      });
      res.on('error', (err) => finish({ ok: false, httpStatus: res.statusCode ?? null, error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const refused = err.code === 'EREFUSEDADDRESS';
      finish({
        ok: false,
        httpStatus: null,
        error: refused ? `refused: ${err.message}` : `network: ${err.message}`,
      });
    });
    req.end(body);
  });
}
