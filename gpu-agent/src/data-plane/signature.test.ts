import { webcrypto } from 'node:crypto';
import { deriveAgentKeyWebCrypto, signRequestWebCrypto } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { deriveAgentKey, signEdgeRequest, verifyEdgeSignature } from './signature.js';

const key = new TextEncoder().encode('k'.repeat(32));
const request = {
  method: 'POST',
  target: '/v2/models/cls/infer?x=1',
  body: new TextEncoder().encode('{"inputs":[]}'),
  deploymentId: 'dep_abc',
  timestamp: 1_700_000_000,
  nonce: 'req_0123456789.1',
  keyGeneration: 1,
  contentType: 'application/json',
  inferenceHeaderContentLength: '',
  usage: { orgId: 'org_a', keyId: 'key_a', userId: null },
};

describe('edge signature', () => {
  it('is the same from WebCrypto (the edge) and node:crypto (the agent)', async () => {
    const edge = await signRequestWebCrypto(webcrypto.subtle, key, request);
    expect(edge).toBe(signEdgeRequest(key, request));
    expect(verifyEdgeSignature(key, request, edge)).toBe(true);
  });

  it('fails for any changed field, the headers that change how the body is read and the usage identity included', () => {
    const good = signEdgeRequest(key, request);
    for (const changed of [
      { ...request, method: 'GET' },
      { ...request, target: '/v2/models/other/infer?x=1' },
      { ...request, body: new TextEncoder().encode('{"inputs":[1]}') },
      { ...request, deploymentId: 'dep_abd' },
      { ...request, timestamp: request.timestamp + 1 },
      { ...request, nonce: 'req_0123456789.2' },
      { ...request, keyGeneration: 2 },
      { ...request, contentType: 'application/octet-stream' },
      { ...request, inferenceHeaderContentLength: '12' },
      { ...request, usage: { ...request.usage, orgId: 'org_b' } },
      { ...request, usage: { ...request.usage, keyId: 'key_b' } },
      { ...request, usage: { orgId: 'org_a', keyId: null, userId: 'key_a' } },
      { ...request, usage: undefined },
    ])
      expect(verifyEdgeSignature(key, changed, good)).toBe(false);
    expect(verifyEdgeSignature(key, request, 'zz')).toBe(false);
  });

  it('verifies nothing for a field that cannot be signed as sent', () => {
    const good = signEdgeRequest(key, request);
    expect(verifyEdgeSignature(key, { ...request, contentType: 'a\nb' }, good)).toBe(false);
    expect(verifyEdgeSignature(key, { ...request, nonce: 'short' }, good)).toBe(false);
  });

  it("derives each agent's own key, the same with WebCrypto as with node:crypto", async () => {
    const platform = new TextEncoder().encode('platform-key-'.repeat(3));
    const a1 = deriveAgentKey(platform, 'agt_a', 1);
    expect(Buffer.from(await deriveAgentKeyWebCrypto(webcrypto.subtle, platform, 'agt_a', 1))).toEqual(a1);
    expect(deriveAgentKey(platform, 'agt_b', 1)).not.toEqual(a1);
    expect(deriveAgentKey(platform, 'agt_a', 2)).not.toEqual(a1);
  });
});
