import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  agentKeyDerivationText,
  CALLER_MODEL_HEADERS,
  canonicalSigningString,
  encodeInferRequest,
  INFERENCE_HEADER_CONTENT_LENGTH,
  SIGNATURE_HEADERS,
  type UsageIdentity,
  usageHeaders,
} from '@meridian/protocol';

/** The request body: one PaddleOCR classifier input (FP32 1×3×48×width), OIP binary extension both ways. */
export function classifierBody(width: number): { body: Buffer; headerLength: number } {
  const shape = [1, 3, 48, width];
  const data = Float32Array.from({ length: 3 * 48 * width }, (_, i) => Math.sin(i / 7) * 0.5);
  const { body, headerLength } = encodeInferRequest({ parameters: { binary_data_output: true } }, [
    { tensor: { name: 'x', datatype: 'FP32', shape, data }, binary: true },
  ]);
  if (headerLength === undefined) throw new Error('a binary tensor must give an inference header length');
  return { body: Buffer.from(body), headerLength };
}

function httpHead(target: string, headers: Record<string, string>, bodyLength: number): Buffer {
  const lines = Object.entries({ host: '127.0.0.1', ...headers, 'content-length': String(bodyLength) })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return Buffer.from(`POST ${target} HTTP/1.1\r\n${lines}\r\n`, 'latin1');
}

/** A prediction through the edge, by model name, with an API key: the same bytes on every call. */
export function edgeRequest(options: {
  name: string;
  apiKey: string;
  body: Buffer;
  headerLength: number;
}): Buffer[] {
  const head = httpHead(
    `/v2/models/${encodeURIComponent(options.name)}/infer`,
    {
      authorization: `Bearer ${options.apiKey}`,
      'content-type': 'application/octet-stream',
      [INFERENCE_HEADER_CONTENT_LENGTH]: String(options.headerLength),
    },
    options.body.byteLength,
  );
  return [head, options.body];
}

/**
 * Predictions sent straight to a replica, signed per request as the edge signs them (the protocol's
 * canonical string, SIGNATURE_HEADERS and agent key derivation; node:crypto for the HMAC, as the agent
 * verifies it): the agent's derived key, a fresh nonce per request (the agent refuses a nonce twice), the
 * content headers and the caller the call is billed to. The body's SHA-256 is taken once; each request
 * costs one HMAC of a short string, and its head is sent before the shared body bytes (no copy).
 */
export function signedReplicaRequests(options: {
  platformKey: string;
  agentId: string;
  keyGeneration: number;
  deploymentId: string;
  versionId: string;
  usage: UsageIdentity;
  body: Buffer;
  headerLength: number;
  /** As the edge sends them: the agent names the model so in its answer, and the edge streams it through. */
  callerNames?: { name: string; version: string };
}): () => Buffer[] {
  const key = createHmac('sha256', options.platformKey)
    .update(agentKeyDerivationText(options.agentId, options.keyGeneration))
    .digest();
  const target = `/v2/models/${encodeURIComponent(options.deploymentId)}/versions/${encodeURIComponent(options.versionId)}/infer`;
  const bodySha256Hex = createHash('sha256').update(options.body).digest('hex');
  const contentType = 'application/octet-stream';
  const inferenceHeaderContentLength = String(options.headerLength);
  const prefix = `bench-${randomBytes(6).toString('hex')}`;
  let sent = 0;
  const fixedHeaders = {
    'content-type': contentType,
    [INFERENCE_HEADER_CONTENT_LENGTH]: inferenceHeaderContentLength,
    ...usageHeaders(options.usage),
    [SIGNATURE_HEADERS.deployment]: options.deploymentId,
    [SIGNATURE_HEADERS.keyGeneration]: String(options.keyGeneration),
    ...(options.callerNames
      ? {
          [CALLER_MODEL_HEADERS.name]: options.callerNames.name,
          [CALLER_MODEL_HEADERS.version]: options.callerNames.version,
        }
      : {}),
  };
  return () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const nonce = `${prefix}.${++sent}`;
    const fields = {
      method: 'POST',
      target,
      bodySha256Hex,
      deploymentId: options.deploymentId,
      timestamp,
      nonce,
      keyGeneration: options.keyGeneration,
      contentType,
      inferenceHeaderContentLength,
      usage: options.usage,
    };
    const signature = createHmac('sha256', key).update(canonicalSigningString(fields)).digest('hex');
    return [
      httpHead(
        target,
        {
          ...fixedHeaders,
          [SIGNATURE_HEADERS.timestamp]: String(timestamp),
          [SIGNATURE_HEADERS.nonce]: nonce,
          [SIGNATURE_HEADERS.signature]: signature,
        },
        options.body.byteLength,
      ),
      options.body,
    ];
  };
}
