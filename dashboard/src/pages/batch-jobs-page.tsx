import { can, useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { usePaged } from '../hooks/use-paged';
import { usePolling } from '../hooks/use-polling';
import { BatchJobForm } from './batch-job-form';
import { BatchJobRow, isActive } from './batch-job-row';

// Often enough for a running job's counts to move visibly, rarely enough to be no load on the API.
const POLL_MS = 5_000;

/** The org's batch jobs: run a JSONL file on a deployment, follow it, cancel it, download its results. */
export function BatchJobsPage() {
  const { role } = useApp();
  // The API refuses viewers files and jobs outright (403), so there is nothing to list for them.
  if (can.write(role)) return <BatchJobList />;
  return (
    <>
      <PageHeader title="Batch jobs" />
      <p>Viewers cannot see or run batch jobs. Ask an owner or admin for the member role.</p>
    </>
  );
}

function BatchJobList() {
  const { client } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/batch-jobs', { query: { cursor, limit } }),
    [],
    'batch-jobs',
  );
  // Only while a job on this page can still change: an idle page asks nothing.
  const active = list.items.some(isActive);
  const { reload } = list;
  // Refreshed in place: a failed turn (an ended session, the network) leaves the jobs shown beside its error.
  usePolling(list.refresh, POLL_MS, active);
  return (
    <>
      <PageHeader title="Batch jobs">
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </PageHeader>
      <BatchJobForm onCreated={reload} />
      <ListState
        list={list}
        label="Batch jobs"
        empty={<p>Upload a JSONL file above to run its requests on a deployment.</p>}
      >
        {(items) => (
          <TableWrap label="Batch jobs table">
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Status</th>
                <th scope="col">Lines</th>
                <th scope="col">Cost</th>
                <th scope="col">Created</th>
                <th scope="col">Files</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((job) => (
                <BatchJobRow key={job.id} job={job} onChange={reload} />
              ))}
            </tbody>
          </TableWrap>
        )}
      </ListState>
    </>
  );
}
