import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { INFERENCE_HEADER_CONTENT_LENGTH, PRIORITY_HEADER } from '@meridian/protocol';
import {
  type Answer,
  answerInfer,
  callerNamesOf,
  errorAnswer,
  type FailedRequest,
  findModel,
} from './answers.js';
import { authOptions, createDataPlaneApp, type DataPlaneDeps, dataPlaneLog } from './app.js';
import { readSignedBody } from './auth.js';
import { readIncomingBody } from './body.js';
import { recycleBody } from './body-pool.js';
import { InferenceMetrics } from './metrics.js';
import { modelServerFor, relayedRequest, relayInfer } from './model-servers.js';
import { NonceCache } from './nonces.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { journalServed } from './usage.js';

/** `/v2/models/{name}[/versions/{version}]/infer`, with an optional query. */
const INFER_PATH = /^\/v2\/models\/([^/?]+)(?:\/versions\/([^/?]+))?\/infer(?:\?.*)?$/;

/**
 * The data plane as a Node request listener. Infer calls, the hot path, are served straight from Node's
 * request and response: building a Web Request, Headers and Response around each one cost ~40–130 µs of a
 * ~0.4 ms request at concurrency 1 (bench/agent-serving.ts). Everything else goes to the hono app, and
 * both paths share the signature check, the infer code and the error envelope (app.test.ts covers both).
 */
export function createDataPlaneListener(deps: DataPlaneDeps): RequestListener {
  const metrics = deps.metrics ?? new InferenceMetrics();
  // One nonce cache for both paths, so a request replayed onto the other path is refused as well.
  const withMetrics = { ...deps, metrics, nonces: deps.nonces ?? new NonceCache() };
  const app = createDataPlaneApp(withMetrics);
  const others = getRequestListener(app.fetch);
  const auth = authOptions(withMetrics);
  const log = dataPlaneLog(deps);

  const serveInfer = async (
    req: IncomingMessage,
    res: ServerResponse,
    match: RegExpExecArray,
  ): Promise<Answer> => {
    let model: FailedRequest['model'];
    let body: Uint8Array | undefined;
    try {
      const request = {
        method: 'POST',
        target: req.url ?? '',
        header: (name: string) => headerOf(req, name),
        readBody: (limit: number) => readIncomingBody(req, limit),
      };
      body = await readSignedBody(request, auth);
      const name = decoded(match[1] ?? '');
      const version = match[2] === undefined ? undefined : decoded(match[2]);
      const gone = () => res.destroyed || req.socket.destroyed;
      const server = modelServerFor(deps, name, version);
      if (server && deps.modelServers) {
        const relay = relayedRequest(request.header, 'POST', '/infer', body);
        const relayed = await relayInfer(deps.modelServers, server, relay, {
          monitor: deps.monitor,
          metrics,
        });
        const call = { deploymentId: server.name, bytesIn: body.byteLength };
        return await journalServed(deps.journal, request.header, call, relayed, gone);
      }
      const served = findModel(deps.models, name, version);
      model = served;
      const answer = await answerInfer(
        served,
        metrics,
        body,
        headerOf(req, INFERENCE_HEADER_CONTENT_LENGTH),
        deps.monitor,
        headerOf(req, PRIORITY_HEADER) === 'batch',
        callerNamesOf(request.header),
      );
      // Recorded for billing before the 200 is written (group commit: one write serves concurrent calls).
      const call = { deploymentId: served.name, bytesIn: body.byteLength };
      return await journalServed(deps.journal, request.header, call, answer, gone);
    } catch (err) {
      return errorAnswer(err, { requestId: requestIdOf(headerOf(req, REQUEST_ID_HEADER)), model }, log);
    } finally {
      // Answered: nothing reads the body any more (answers are fresh bytes, inputs were decoded or ran).
      if (body) recycleBody(body);
    }
  };

  return (req, res) => {
    const match = req.method === 'POST' ? INFER_PATH.exec(req.url ?? '') : null;
    if (!match) return others(req, res);
    void serveInfer(req, res, match).then((answer) => write(req, res, answer));
  };
}

/** A path segment decoded as hono decodes route parameters: a malformed escape stays as sent. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** How long the rest of a refused body is read and thrown away before the connection is dropped. */
const LINGER_MS = 2_000;

function write(req: IncomingMessage, res: ServerResponse, answer: Answer): void {
  if (res.destroyed) return;
  const { connection, ...headers } = answer.headers;
  // Closing at once while the client is still sending makes the kernel reset the connection, and a reset
  // can discard the answer before the client reads it (seen as EPIPE on a 413 under load). So, as nginx's
  // lingering close does, answer, read and discard what keeps coming for a while, then cut the client off.
  const linger = connection === 'close' && !req.complete;
  res.writeHead(answer.status, {
    ...(linger ? headers : answer.headers),
    'content-length': String(answer.body.byteLength),
  });
  res.end(answer.body);
  if (!linger) return;
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  const done = () => clearTimeout(timer);
  req.once('end', done).once('close', done);
}
