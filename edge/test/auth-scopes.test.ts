import { describe, expect, it } from 'vitest';
import { requirePredictScope } from '../src/auth/authenticate.js';
import type { Caller } from '../src/caller.js';
import { EdgeError } from '../src/errors.js';

function callerWith(scopes: string[]): Caller {
  return {
    kind: 'api_key',
    orgId: 'org_1',
    keyId: 'key_1',
    userId: null,
    scopes,
    rateLimits: [],
    org: { orgId: 'org_1', plan: 'pro', monthlyCallQuota: 100_000, suspended: false, suspendedReason: null },
  };
}

const deployment = { deploymentId: 'dep_abc', name: 'sentiment' };

describe('requirePredictScope', () => {
  it.each([['predict'], ['admin'], ['predict:dep_abc'], ['predict:sentiment']])(
    'lets %s predict',
    (scope) => {
      expect(() => requirePredictScope(callerWith(['models:read', scope]), deployment)).not.toThrow();
    },
  );

  it.each([[[]], [['models:read', 'deployments:write']], [['predict:other']], [['predict:dep_abcd']]])(
    'refuses scopes %j with 403 forbidden',
    (scopes) => {
      const refusal = (() => {
        try {
          requirePredictScope(callerWith(scopes), deployment);
        } catch (err) {
          return err;
        }
      })();
      expect(refusal).toBeInstanceOf(EdgeError);
      expect(refusal).toMatchObject({ code: 'forbidden', message: expect.stringContaining('sentiment') });
    },
  );
});
