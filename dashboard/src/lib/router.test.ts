import { describe, expect, it } from 'vitest';
import { matchPath } from './router';

describe('matchPath', () => {
  it('matches the root, which a logged-in user lands on', () => {
    expect(matchPath('/', '/')).toEqual({});
    expect(matchPath('/models', '/')).toBeUndefined();
  });

  it('ignores a trailing slash and decodes parameters', () => {
    expect(matchPath('/models', '/models/')).toEqual({});
    expect(matchPath('/models/:id', '/models/mdl%201')).toEqual({ id: 'mdl 1' });
    expect(matchPath('/', '/models')).toBeUndefined();
    expect(matchPath('/models/:id', '/models')).toBeUndefined();
  });
});
