import { createRoute, z } from '@hono/zod-openapi';
import type { SigningKeyStore } from '../auth/signing-keys.js';
import { requireOperatorToken } from '../http/guards.js';
import { errors, jsonContent, newRouter } from '../http/openapi.js';

const Rotated = z
  .object({
    kid: z.string().openapi({ description: 'The new signing key' }),
    publishedKids: z.array(z.string()).openapi({ description: 'Every key in the JWKS now' }),
  })
  .openapi('SigningKeyRotation');

/** Operator route: rotate the access-token signing key. Earlier tokens stay valid until they expire. */
export function internalSigningKeyRoutes({
  signingKeys: keys,
  operatorToken,
}: {
  signingKeys: SigningKeyStore;
  operatorToken: string;
}) {
  const rotate = createRoute({
    method: 'post',
    path: '/internal/v1/signing-keys/rotate',
    operationId: 'rotateSigningKey',
    tags: ['internal'],
    summary:
      'Operators only: make a fresh key the signer; the old one stays published until its tokens expire',
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(operatorToken),
    responses: { 200: jsonContent(Rotated, 'Rotated'), ...errors(401) },
  });
  return newRouter().openapi(rotate, async (c) => {
    const kid = await keys.rotate();
    const publishedKids = keys.jwks().keys.flatMap((k) => (k.kid ? [k.kid] : []));
    return c.json({ kid, publishedKids }, 200);
  });
}
