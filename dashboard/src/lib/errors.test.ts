import { BadRequestError } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { messageOf } from './errors';

describe('messageOf', () => {
  it('says a refused field once when the API message already names it', () => {
    const error = new BadRequestError(
      400,
      'validation_failed',
      'name: must be at most 100 characters',
      'req_1',
      [{ path: 'name', message: 'must be at most 100 characters' }],
    );
    expect(messageOf(error)).toEqual({
      message: 'name: must be at most 100 characters',
      code: 'validation_failed',
      requestId: 'req_1',
    });
  });

  it('adds the refused fields the message leaves out', () => {
    const error = new BadRequestError(
      400,
      'validation_failed',
      'name: must not be empty; role: must be one of owner, admin, member, viewer; email: is required; and 1 more',
      'req_2',
      [
        { path: 'name', message: 'must not be empty' },
        { path: 'role', message: 'must be one of owner, admin, member, viewer' },
        { path: 'email', message: 'is required' },
        { path: '(body)', message: 'does not take the field colour' },
      ],
    );
    expect(messageOf(error).message).toBe(
      'name: must not be empty; role: must be one of owner, admin, member, viewer; email: is required; and 1 more ((body): does not take the field colour)',
    );
  });
});
