import type { Schema } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';
import { hardwareText } from '../lib/gpus';
import { NotebookSessions } from './notebook-sessions';
import { openNotebook } from './open-notebook';

/** A notebook: start / stop, open through the edge in a new tab, delete, and its sessions. */
export function NotebookCard({ notebook: n, onChange }: { notebook: Schema<'Notebook'>; onChange(): void }) {
  const { client, role, session, me } = useApp();
  const act = useAction(async (verb: 'start' | 'stop' | 'delete') => {
    if (verb === 'delete') await client.request('delete', '/v1/notebooks/{id}', { path: { id: n.id } });
    else if (verb === 'start')
      await client.request('post', '/v1/notebooks/{id}/start', { path: { id: n.id } });
    else await client.request('post', '/v1/notebooks/{id}/stop', { path: { id: n.id } });
    onChange();
  });
  const open = useAction(async (accessUrl: string) => openNotebook(session, accessUrl));
  // As the API decides (services/notebooks/records.ts): only its owner starts a notebook; owners and admins
  // may also stop or delete anyone's. A button the API would answer 403 is not offered.
  const own = n.ownerId === me.user?.id;
  const mayStart = own && can.write(role);
  const mayStop = mayStart || (can.write(role) && can.manage(role));
  return (
    <article className="card" aria-label={`Notebook ${n.name}`}>
      <h2>
        {n.name} <StatusBadge status={n.status} />
      </h2>
      <p>
        {hardwareText(n)} · {n.image} · idle stop after {Math.round(n.idleTimeoutSeconds / 60)} min · last
        activity <TimeText iso={n.lastActivityAt} />
      </p>
      {n.statusReason ? <p className="muted">{n.statusReason}</p> : null}
      <div className="actions">
        {n.accessUrl && n.status === 'running' ? (
          <button
            type="button"
            className="primary"
            onClick={() => void open.run(n.accessUrl as string)}
            disabled={open.busy}
          >
            Open {n.name} (new tab)
          </button>
        ) : null}
        {mayStart && n.desired === 'stopped' ? (
          <button type="button" onClick={() => void act.run('start')} disabled={act.busy}>
            Start
          </button>
        ) : null}
        {mayStop && n.desired === 'running' ? (
          <button type="button" onClick={() => void act.run('stop')} disabled={act.busy}>
            Stop
          </button>
        ) : null}
        {mayStop ? (
          <ConfirmButton
            label="Delete"
            confirm={`Delete ${n.name}`}
            onConfirm={() => void act.run('delete')}
            disabled={act.busy}
          />
        ) : null}
      </div>
      <ErrorMessage error={act.error ?? open.error} />
      <NotebookSessions id={n.id} />
    </article>
  );
}
