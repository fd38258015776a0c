import { describe, expect, it } from 'vitest';
import { listPageOf, matchPath } from './router';

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

describe('listPageOf', () => {
  it('leads from one thing of an organisation to the list it is in, which every organisation has', () => {
    expect(listPageOf('/deployments/dep_1')).toBe('/deployments');
    expect(listPageOf('/models/mdl_1')).toBe('/models');
    expect(listPageOf('/experiments/exp_1')).toBe('/experiments');
    expect(listPageOf('/runs/run_1')).toBe('/experiments');
  });

  it('keeps a list, and the root', () => {
    expect(listPageOf('/keys')).toBe('/keys');
    expect(listPageOf('/')).toBe('/');
    expect(listPageOf('/welcome')).toBe('/welcome');
  });
});
