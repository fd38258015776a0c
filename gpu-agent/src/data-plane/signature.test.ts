import { webcrypto } from 'node:crypto';
import { signRequestWebCrypto } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { signEdgeRequest, verifyEdgeSignature } from './signature.js';

const key = new TextEncoder().encode('k'.repeat(32));
const request = {
  method: 'POST',
  target: '/v2/models/cls/infer?x=1',
  body: new TextEncoder().encode('{"inputs":[]}'),
  deploymentId: 'dep_abc',
  timestamp: 1_700_000_000,
};

describe('edge signature', () => {
  it('is the same from WebCrypto (the edge) and node:crypto (the agent)', async () => {
    const edge = await signRequestWebCrypto(webcrypto.subtle, key, request);
    expect(edge).toBe(signEdgeRequest(key, request));
    expect(verifyEdgeSignature(key, request, edge)).toBe(true);
  });

  it('fails for any changed field', () => {
    const good = signEdgeRequest(key, request);
    for (const changed of [
      { ...request, method: 'GET' },
      { ...request, target: '/v2/models/other/infer?x=1' },
      { ...request, body: new TextEncoder().encode('{"inputs":[1]}') },
      { ...request, deploymentId: 'dep_abd' },
      { ...request, timestamp: request.timestamp + 1 },
    ])
      expect(verifyEdgeSignature(key, changed, good)).toBe(false);
    expect(verifyEdgeSignature(key, request, 'zz')).toBe(false);
  });
});
