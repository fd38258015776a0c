import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockTimeout, type StripeReply, serverError, stripeError } from './errors.js';
import { earlyReply, type FailureKind, type FailureMatch, FailurePlan, matches } from './failures.js';
import { type Params, parseForm } from './form.js';
import { IdempotencyKeys } from './idempotency.js';
import { countedEvents, currentPeriodUsage, meterEventLockKey } from './metering.js';
import { dispatch } from './routes.js';
import { type AcceptedMeterEvent, newId, StripeState } from './state.js';

/**
 * A local stand-in for Stripe's API, for tests only: Stripe itself is unreachable from these machines and
 * stripe-mock cannot be installed. It speaks Stripe's wire format (form-encoded requests, JSON objects and
 * error bodies, `Request-Id`, `Idempotency-Key`, `Stripe-Should-Retry`) for the endpoints Meridian uses,
 * keeps everything in memory, records every request, and misbehaves on demand.
 */

export type { FailureKind, FailureMatch } from './failures.js';

export interface RecordedRequest {
  requestId: string;
  method: string;
  path: string;
  query: Params;
  params: Params;
  idempotencyKey: string | undefined;
  /** `<customer>|<event_name>` for meter events: the unit of Stripe's one-concurrent-call rule. */
  lockKey: string | undefined;
  /** performance.now() milliseconds, to order and overlap requests. */
  startedAt: number;
  endedAt: number | undefined;
  status: number | undefined;
  outcome: 'pending' | 'answered' | 'dropped' | 'hung';
  injected: FailureKind | undefined;
  replayed: boolean;
}

export interface StripeServerOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (or Basic with it as the user). */
  apiKey?: string;
  /**
   * The server's clock in ms: meter event timestamps and subscription times are checked against it, and
   * Idempotency-Keys are pruned once 24 hours old by it.
   */
  clock?: () => number;
}

export type StripeTestServer = Awaited<ReturnType<typeof startStripeServer>>;

function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = header.match(/^Bearer (.+)$/i)?.[1];
  if (bearer) return bearer;
  const basic = header.match(/^Basic (.+)$/i)?.[1];
  return basic ? Buffer.from(basic, 'base64').toString('utf8').split(':')[0] : undefined;
}

function unauthorized(key: string | undefined): StripeReply {
  const message = key
    ? `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`
    : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').";
  return stripeError(401, 'invalid_request_error', message);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the stand-in on 127.0.0.1 and a free port. */
export async function startStripeServer(options: StripeServerOptions = {}) {
  const clock = options.clock ?? Date.now;
  const state = new StripeState(clock);
  const requests: RecordedRequest[] = [];
  const failures = new FailurePlan();
  const idempotency = new IdempotencyKeys(clock);
  const inFlight = new Set<string>();
  const concurrencyViolations: { lockKey: string; requestId: string }[] = [];
  const hung = new Set<ServerResponse>();

  const send = (res: ServerResponse, record: RecordedRequest, reply: StripeReply, replayed = false) => {
    Object.assign(record, {
      status: reply.status,
      outcome: 'answered',
      replayed,
      endedAt: performance.now(),
    });
    res.writeHead(reply.status, {
      'content-type': 'application/json',
      'request-id': record.requestId,
      ...(record.idempotencyKey ? { 'idempotency-key': record.idempotencyKey } : {}),
      ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
      ...reply.headers,
    });
    res.end(JSON.stringify(reply.body));
  };

  /** Leaves the request unanswered until the client gives up; `release` runs when it does. */
  const hang = (res: ServerResponse, record: RecordedRequest, release?: () => void) => {
    record.outcome = 'hung';
    hung.add(res);
    res.on('close', () => {
      hung.delete(res);
      record.endedAt = performance.now();
      release?.();
    });
  };

  const drop = (req: IncomingMessage, record: RecordedRequest) => {
    record.outcome = 'dropped';
    record.endedAt = performance.now();
    req.socket.destroy();
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://stripe.local');
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const params = method === 'POST' ? parseForm(body) : {};
    const record: RecordedRequest = {
      requestId: newId('req'),
      method,
      path: url.pathname,
      query: parseForm(url.search.slice(1)),
      params,
      idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      lockKey: url.pathname === '/v1/billing/meter_events' ? meterEventLockKey(state, params) : undefined,
      startedAt: performance.now(),
      endedAt: undefined,
      status: undefined,
      outcome: 'pending',
      injected: undefined,
      replayed: false,
    };
    requests.push(record);

    const key = presentedKey(req);
    if (options.apiKey !== undefined && key !== options.apiKey) return send(res, record, unauthorized(key));
    const rule = failures.take(method, url.pathname);
    record.injected = rule?.kind;
    if (rule?.kind === 'drop') return drop(req, record);
    const early = earlyReply(rule);
    if (early) return send(res, record, early);

    const idemKey = method === 'POST' ? record.idempotencyKey : undefined;
    const known = idemKey ? idempotency.claim(idemKey, `${method} ${url.pathname} ${body}`) : undefined;
    if (known) {
      // A replayed answer can be lost on the way like a first one.
      if (known.replayed && rule?.kind === 'accept_then_drop') return drop(req, record);
      if (known.replayed && rule?.kind === 'accept_then_hang') return hang(res, record);
      return send(res, record, known.reply, known.replayed);
    }

    // Stripe allows one concurrent meter-event call per customer per meter; a second one meets the lock.
    const lockKey = record.lockKey;
    if (lockKey && inFlight.has(lockKey)) {
      concurrencyViolations.push({ lockKey, requestId: record.requestId });
      const reply = lockTimeout();
      if (idemKey) idempotency.settle(idemKey, reply);
      return send(res, record, reply);
    }
    if (lockKey) inFlight.add(lockKey);
    const release = () => {
      if (lockKey) inFlight.delete(lockKey);
    };
    if (rule?.kind === 'hang') return hang(res, record, release);

    if (failures.latency.ms > 0 && matches(failures.latency.match, method, url.pathname)) {
      await sleep(failures.latency.ms);
    }
    const reply =
      rule?.kind === 'server_error'
        ? serverError()
        : dispatch(state, {
            method,
            path: url.pathname,
            query: record.query,
            params,
            requestId: record.requestId,
          });
    release();
    if (idemKey) idempotency.settle(idemKey, reply);
    record.status = reply.status;
    if (rule?.kind === 'accept_then_drop') return drop(req, record);
    if (rule?.kind === 'accept_then_hang') return hang(res, record);
    send(res, record, reply);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    apiKey: options.apiKey,
    state,
    /** Every request in arrival order, with its outcome. */
    requests,
    /** Meter-event calls that arrived while another for the same customer and meter was in flight. */
    concurrencyViolations,
    get meterEvents(): readonly AcceptedMeterEvent[] {
      return state.meterEvents;
    },
    get meterErrors() {
      return state.meterErrors;
    },
    /** The next `n` requests matching `match` (default: POST /v1/billing/meter_events) fail as `kind`. */
    failNext(n: number, kind: FailureKind, match: FailureMatch = {}) {
      failures.add(n, kind, match);
    },
    /** Every matching request (default: meter events) takes `ms` before it is answered. */
    setLatency(ms: number, match: FailureMatch = {}) {
      failures.latency = { ms, match };
    },
    /** What Stripe would bill: the counted events of `eventName` for `customer`, summed. */
    meterTotal(eventName: string, customer: string): number {
      const meter = [...state.meters.values()].find((m) => m.event_name === eventName);
      if (!meter) return 0;
      const events = countedEvents(state, meter, customer, 0, Number.MAX_SAFE_INTEGER);
      return events.reduce((sum, e) => sum + Number(e.value), 0);
    },
    /** What Stripe's invoice at the end of the subscription's current period bills, per meter event name. */
    currentPeriodUsage(subscriptionId: string): Record<string, number> {
      return currentPeriodUsage(state, subscriptionId);
    },
    /** Tampering for reconciliation tests: an event no Meridian outbox row sent. */
    injectMeterEvent(event: Omit<AcceptedMeterEvent, 'created' | 'requestId'>) {
      const accepted = { ...event, created: state.nowSeconds(), requestId: 'injected' };
      state.meterEvents.push(accepted);
      state.identifiers.set(event.identifier, accepted);
    },
    /** Tampering: removes accepted events, as if Stripe had lost them. */
    removeMeterEvents(predicate: (event: AcceptedMeterEvent) => boolean) {
      for (let i = state.meterEvents.length - 1; i >= 0; i -= 1) {
        const event = state.meterEvents[i];
        if (event && predicate(event)) state.meterEvents.splice(i, 1);
      }
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
