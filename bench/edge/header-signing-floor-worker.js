// A third reference, below the signing floor: what a Worker that authenticates what it forwards pays even
// when it does not sign the body. It HMACs a canonical string of the headers (content type, binary header
// length, content length, a timestamp and nonce, the caller), streams the body through untouched (no
// buffering, no SHA-256, so no resend on another replica), forwards under the same per-attempt timeout and
// rebuilds the answer with only the headers a caller may see. The gap from the bare Worker to this row is
// the least any per-request signature costs in this runtime; the gap from here to the signing floor is what
// binding the body adds. Loaded by raw workerd only.
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

export default {
  async fetch(request, env) {
    key ??= crypto.subtle.importKey(
      'raw',
      encoder.encode(env.KEY),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    const url = new URL(request.url);
    const headers = {};
    for (const [name, value] of request.headers) headers[name] = value;
    delete headers.host;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = crypto.randomUUID();
    const text = [
      'meridian-header-floor-v1',
      'POST',
      url.pathname,
      headers['content-length'] ?? '',
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
    const response = await fetch(env.UPSTREAM + url.pathname + url.search, {
      method: 'POST',
      headers,
      body: request.body,
      signal: AbortSignal.timeout(30_000),
    });
    const answer = {};
    for (const name of PASSED) {
      const value = response.headers.get(name);
      if (value !== null) answer[name] = value;
    }
    return new Response(response.body, { status: response.status, headers: answer });
  },
};
