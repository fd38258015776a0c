import { can, useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { usePaged } from '../hooks/use-paged';
import { NotebookCard } from './notebook-card';
import { NotebookForm } from './notebook-form';

export function NotebooksPage() {
  const { client, role } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/notebooks', { query: { cursor, limit } }),
    [],
    'notebooks',
  );
  return (
    <>
      <PageHeader title="Notebooks">
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </PageHeader>
      {can.write(role) ? <NotebookForm onCreated={list.reload} /> : null}
      <ListState
        list={list}
        label="Notebooks"
        empty={<p>Create one above: Jupyter on a GPU, opened through the edge.</p>}
      >
        {(items) => items.map((n) => <NotebookCard key={n.id} notebook={n} onChange={list.reload} />)}
      </ListState>
    </>
  );
}
