import type { Schema } from '@meridian/sdk';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AppContext, type AppContextValue } from '../api/context';
import { NotebookCard } from './notebook-card';

const notebook = (over: Partial<Schema<'Notebook'>>) =>
  ({
    id: 'nb_1',
    name: 'lab',
    gpuType: 't4',
    gpuCount: 1,
    image: 'jupyter/base',
    idleTimeoutSeconds: 3600,
    desired: 'stopped',
    status: 'stopped',
    statusReason: null,
    lastActivityAt: null,
    accessUrl: null,
    ...over,
  }) as Schema<'Notebook'>;

// Rendered to markup, nothing loads: the client is never called.
const app = { client: {}, session: {}, role: 'member' } as unknown as AppContextValue;
const card = (n: Schema<'Notebook'>) =>
  renderToStaticMarkup(
    <AppContext.Provider value={app}>
      <NotebookCard notebook={n} onChange={() => {}} />
    </AppContext.Provider>,
  );

describe('a notebook card', () => {
  it('shows how many GPUs the notebook has when it has more than one, and the type alone otherwise', () => {
    expect(card(notebook({ gpuType: 't4', gpuCount: 2 }))).toContain('<p>t4 × 2 · jupyter/base');
    expect(card(notebook({ gpuType: 't4', gpuCount: 1 }))).toContain('<p>t4 · jupyter/base');
    expect(card(notebook({ gpuType: 'cpu', gpuCount: 0 }))).toContain('<p>cpu · jupyter/base');
  });
});
