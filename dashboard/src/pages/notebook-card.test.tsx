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
    ownerId: 'usr_me',
    ...over,
  }) as Schema<'Notebook'>;

// Rendered to markup, nothing loads: the client is never called.
const app = {
  client: {},
  session: {},
  role: 'member',
  me: { user: { id: 'usr_me' } },
} as unknown as AppContextValue;
const card = (n: Schema<'Notebook'>, role = 'member') =>
  renderToStaticMarkup(
    <AppContext.Provider value={{ ...app, role } as AppContextValue}>
      <NotebookCard notebook={n} onChange={() => {}} />
    </AppContext.Provider>,
  );

describe('a notebook card', () => {
  it('shows how many GPUs the notebook has when it has more than one, and the type alone otherwise', () => {
    expect(card(notebook({ gpuType: 't4', gpuCount: 2 }))).toContain('<p>t4 × 2 · jupyter/base');
    expect(card(notebook({ gpuType: 't4', gpuCount: 1 }))).toContain('<p>t4 · jupyter/base');
    expect(card(notebook({ gpuType: 'cpu', gpuCount: 0 }))).toContain('<p>cpu · jupyter/base');
  });

  it('offers only what the API lets this user do to another member’s notebook: nothing to a member, stop and delete to an admin, never start', () => {
    const theirs = (desired: 'running' | 'stopped') =>
      notebook({ ownerId: 'usr_other', desired, status: desired });
    expect(card(theirs('stopped'))).not.toMatch(/>Start<|>Delete</);
    expect(card(theirs('running'))).not.toMatch(/>Stop<|>Delete</);
    expect(card(theirs('stopped'), 'admin')).not.toContain('>Start<');
    expect(card(theirs('stopped'), 'admin')).toContain('>Delete<');
    expect(card(theirs('running'), 'admin')).toContain('>Stop<');
    expect(card(notebook({ desired: 'stopped' }))).toContain('>Start<');
    expect(card(notebook({ desired: 'running', status: 'running' }))).toContain('>Stop<');
  });
});
