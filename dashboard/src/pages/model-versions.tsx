import { can, useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ListState } from '../components/list-state';
import { SignatureView } from '../components/signature-view';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { usePaged } from '../hooks/use-paged';
import { formatBytes } from '../lib/format';
import { runName } from './run-columns';
import { VersionUpload } from './version-upload';

/** A model's versions with their signature, size, checksum and the run each came from. */
export function ModelVersions({ modelId }: { modelId: string }) {
  const { client, role } = useApp();
  const list = usePaged(
    (cursor, limit) =>
      client
        .request('get', '/v1/models/{id}/versions', {
          path: { id: modelId },
          query: { cursor: cursor === undefined ? undefined : Number(cursor), limit },
        })
        .then((page) => ({
          items: page.items,
          nextCursor:
            page.nextCursor === null || page.nextCursor === undefined ? null : String(page.nextCursor),
        })),
    [modelId],
    'versions',
  );
  return (
    <>
      {can.write(role) ? <VersionUpload modelId={modelId} onUploaded={list.reload} /> : null}
      <h2>Versions</h2>
      <ListState
        list={list}
        label="Versions"
        empty={can.write(role) ? <p>Drop a model file above to upload the first.</p> : null}
      >
        {(items) =>
          items.map((v) => (
            <article key={v.id} className="card">
              <h3>
                Version {v.version} <StatusBadge status={v.status} />{' '}
                {v.aliases.map((a) => (
                  <span key={a} className="badge">
                    {a}
                  </span>
                ))}
              </h3>
              <p>
                {v.fileName} · {v.format} · {formatBytes(v.sizeBytes)} · <TimeText iso={v.createdAt} />
              </p>
              {v.sha256 ? (
                <p className="muted break">
                  sha256 <code>{v.sha256}</code>
                </p>
              ) : null}
              {v.runId ? <RunSource runId={v.runId} /> : null}
              <SignatureView signature={v.signature} />
            </article>
          ))
        }
      </ListState>
    </>
  );
}

/** The run a version came from, by the names its user gave it and its experiment (its id only if they fail). */
function RunSource({ runId }: { runId: string }) {
  const { client } = useApp();
  const names = useLoad(async () => {
    const run = await client.request('get', '/v1/runs/{id}', { path: { id: runId } });
    const experiment = await client.request('get', '/v1/experiments/{id}', {
      path: { id: run.experimentId },
    });
    return { run: runName(run), experiment: experiment.name };
  }, [runId]);
  return (
    <p>
      From run <AppLink to={`/runs/${runId}`}>{names.data?.run ?? (names.error ? runId : '…')}</AppLink>
      {names.data ? ` in experiment ${names.data.experiment}` : ''}
    </p>
  );
}
