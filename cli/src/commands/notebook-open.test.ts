import type { Schema } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';
import { notebookLine } from './notebook-open.js';

const notebook = (over: Partial<Schema<'Notebook'>>) =>
  ({
    id: 'nb_1',
    name: 'lab',
    desired: 'running',
    status: 'running',
    statusReason: null,
    ...over,
  }) as Schema<'Notebook'>;

describe('notebookLine', () => {
  it('says where a notebook goes when the server still reports the state it leaves', () => {
    const justStopped = notebook({
      desired: 'stopped',
      status: 'running',
      statusReason: 'Jupyter is serving',
    });
    expect(notebookLine(justStopped)).toBe('lab (nb_1): running → stopped');
    expect(notebookLine(notebook({ desired: 'running', status: 'stopped' }))).toBe(
      'lab (nb_1): stopped → running',
    );
  });

  it('shows the state and its reason once on the way, and a failure with its reason', () => {
    const starting = notebook({ status: 'pending', statusReason: 'waiting for a host' });
    expect(notebookLine(starting)).toBe('lab (nb_1): pending (waiting for a host)');
    expect(notebookLine(notebook({ desired: 'stopped', status: 'stopping' }))).toBe('lab (nb_1): stopping');
    const failed = notebook({ status: 'failed', statusReason: 'image not allowed' });
    expect(notebookLine(failed)).toBe('lab (nb_1): failed (image not allowed)');
  });
});
