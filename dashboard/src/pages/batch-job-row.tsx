import type { Schema } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { ProgressBar } from '../components/progress-bar';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';
import { formatNumber } from '../lib/format';
import { BatchJobFiles } from './batch-job-files';

type BatchJob = Schema<'BatchJob'>;

/** Whether the job can still change (so the list keeps polling). */
export const isActive = (job: BatchJob) =>
  job.status === 'validating' ||
  job.status === 'running' ||
  job.status === 'finalizing' ||
  job.status === 'cancelling';

// Past finalizing no new line starts, so a cancel would have nothing left to stop.
const cancellable = (job: BatchJob) => job.status === 'validating' || job.status === 'running';

export function BatchJobRow({ job, onChange }: { job: BatchJob; onChange(): void }) {
  const { client, role } = useApp();
  const cancel = useAction(async () => {
    await client.request('post', '/v1/batch-jobs/{id}/cancel', { path: { id: job.id } });
    onChange();
  });
  const { completed, failed, total } = job.counts;
  const fault = job.error?.faults?.[0];
  return (
    <tr>
      <td>{job.deployment.name}</td>
      <td>
        <StatusBadge status={job.status} />
        {job.pausedReason ? (
          <small className="muted"> paused: {job.pausedReason.replace(/_/g, ' ')}</small>
        ) : null}
        {job.statusReason ? (
          <small className="muted" role="note">
            <br />
            {job.statusReason}
          </small>
        ) : null}
        {job.error ? (
          <small className="muted">
            <br />
            {job.error.message}
            {fault ? ` (line ${fault.line}: ${fault.message})` : ''}
          </small>
        ) : null}
      </td>
      <td>
        {formatNumber(completed)} done, {formatNumber(failed)} failed of {formatNumber(total)}
        {job.status === 'running' ? (
          <ProgressBar label="Answered" done={completed + failed} total={total} />
        ) : null}
      </td>
      <td>${job.costUsd}</td>
      <td>
        <TimeText iso={job.createdAt} />
      </td>
      <td>{job.outputFileId || job.errorFileId ? <BatchJobFiles job={job} /> : '—'}</td>
      <td>
        {can.write(role) && cancellable(job) ? (
          <ConfirmButton
            label="Cancel job"
            confirm="Yes, cancel the job"
            dismiss="Keep it running"
            onConfirm={() => void cancel.run()}
            disabled={cancel.busy}
          />
        ) : null}
        <ErrorMessage error={cancel.error} />
      </td>
    </tr>
  );
}
