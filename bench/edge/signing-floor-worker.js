// Two references below the edge, one Worker: the fixed work any proxy that signs what it forwards must do per
// request, and nothing else. With SIGN_BODY = "true" (the signing floor) it reads the body whole (to hash it,
// and to resend it on another replica), takes its SHA-256 and signs that with the headers; with "false" (the
// header-signing floor) it signs the headers only (the body's length among them) and streams the body through
// untouched: the least any per-request signature costs. Either way it HMACs a canonical string of the edge's
// length, forwards with a header record the size of the edge's (the caller's signed headers, which the agent
// checks, plus a signature and identity of its own), under a per-attempt timeout, and rebuilds the answer with
// only the headers a caller may see. No auth, limits, routing, metrics or router: the gap from these rows to
// the edge is the edge's own logic; from the bare Worker to them, what signing costs in this runtime. Loaded by
// raw workerd only.
//
// STEPS, when bound, names the steps to run instead, comma-separated, for bench/edge-forward-steps.ts (what each
// piece costs): `buffer` (read the body whole), `hash` (its SHA-256, signed in place of its length), `sign`
// (nonce, timestamp, HMAC and the signature headers), `timeout` (an AbortSignal per attempt), `rebuild` (the
// answer with only the passed headers); none of them is a forward with a header record and a streamed body.
// SIGN_BODY "true" is all five; "false" is sign, timeout and rebuild.
const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const PASSED = ['content-type', 'inference-header-content-length', 'retry-after'];

function hex(buffer) {
  const bytes = new Uint8Array(buffer);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

let key;
let steps;
const FLOOR = 'buffer,hash,sign,timeout,rebuild';
const HEADER_FLOOR = 'sign,timeout,rebuild';

export default {
  async fetch(request, env) {
    key ??= crypto.subtle.importKey(
      'raw',
      encoder.encode(env.KEY),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    steps ??= new Set(
      (env.STEPS ?? (env.SIGN_BODY === 'true' ? FLOOR : HEADER_FLOOR)).split(',').filter(Boolean),
    );
    const buffered = steps.has('buffer');
    // Only a body read whole can be hashed before the headers go out.
    const hashed = buffered && steps.has('hash');
    const url = new URL(request.url);
    const body = buffered ? new Uint8Array(await request.arrayBuffer()) : request.body;
    const bodyHash = hashed ? hex(await crypto.subtle.digest('SHA-256', body)) : '';
    const headers = {};
    for (const [name, value] of request.headers) headers[name] = value;
    delete headers.host;
    // A buffered body is resent with the length fetch gives it; a streamed one keeps the caller's.
    if (buffered) delete headers['content-length'];
    if (steps.has('sign')) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = crypto.randomUUID();
      const text = [
        hashed ? 'meridian-floor-v1' : 'meridian-header-floor-v1',
        'POST',
        url.pathname,
        hashed ? bodyHash : (headers['content-length'] ?? ''),
        timestamp,
        nonce,
        headers['content-type'] ?? '',
        headers['inference-header-content-length'] ?? '',
        'org_0000000000000000',
        'key_0000000000000000',
      ].join('\n');
      const signature = await crypto.subtle.sign('HMAC', await key, encoder.encode(text));
      headers['x-request-id'] = nonce;
      headers['x-floor-timestamp'] = timestamp;
      headers['x-floor-nonce'] = nonce;
      headers['x-floor-signature'] = hex(signature);
    }
    const init = { method: 'POST', headers, body };
    if (steps.has('timeout')) init.signal = AbortSignal.timeout(30_000);
    const response = await fetch(env.UPSTREAM + url.pathname + url.search, init);
    if (!steps.has('rebuild')) return response;
    const answer = {};
    for (const name of PASSED) {
      const value = response.headers.get(name);
      if (value !== null) answer[name] = value;
    }
    return new Response(response.body, { status: response.status, headers: answer });
  },
};
