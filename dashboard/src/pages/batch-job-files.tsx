import type { Schema } from '@meridian/sdk';
import { type MouseEvent, useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { useLoad } from '../hooks/use-load';

type BatchJob = Schema<'BatchJob'>;

/** Links to a job's output and error files, through the expiring URLs the API signs for them. */
export function BatchJobFiles({ job }: { job: BatchJob }) {
  const { client } = useApp();
  const [renewed, setRenewed] = useState(false);
  // Asked again only when the job gets a file, not on every poll of the list.
  const urls = useLoad(
    () => client.request('get', '/v1/batch-jobs/{id}/download-urls', { path: { id: job.id } }),
    [job.id, job.outputFileId, job.errorFileId],
  );
  const { data } = urls;
  if (!data) return <ErrorMessage error={urls.error} />;
  // The URLs expire (an hour by default) while the page stays open: a click on a stale one gets new links
  // instead of the storage's refusal.
  const freshOrRenew = (event: MouseEvent) => {
    if (Date.parse(data.expiresAt) - Date.now() > 30_000) return;
    event.preventDefault();
    setRenewed(true);
    urls.reload();
  };
  const link = (href: string | null, text: string) =>
    href ? (
      <a href={href} target="_blank" rel="noopener noreferrer" download onClick={freshOrRenew}>
        {text}
        <span className="visually-hidden"> of the job on {job.deployment.name}</span>
      </a>
    ) : null;
  return (
    <span className="actions">
      {link(data.output, 'Output')}
      {link(data.errors, 'Errors')}
      {renewed ? <small role="status">The links had expired: here are new ones.</small> : null}
    </span>
  );
}
