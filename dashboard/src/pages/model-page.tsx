import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { useLoad } from '../hooks/use-load';
import { AliasForm } from './alias-form';
import { ModelVersions } from './model-versions';

export function ModelPage({ id }: { id: string }) {
  const { client } = useApp();
  const model = useLoad(() => client.request('get', '/v1/models/{id}', { path: { id } }), [id]);
  if (!model.data) return model.error ? <ErrorMessage error={model.error} /> : <Loading />;
  const m = model.data;
  return (
    <>
      <PageHeader title={`Model ${m.name}`} />
      {m.description ? <p>{m.description}</p> : null}
      <h2>Aliases</h2>
      <ul>
        {m.aliases.length === 0 ? <li className="muted">None yet</li> : null}
        {m.aliases.map((a) => (
          <li key={a.alias}>
            <strong>{a.alias}</strong> → version {a.version}
          </li>
        ))}
      </ul>
      <AliasForm modelId={m.id} onSaved={model.reload} />
      <ModelVersions modelId={m.id} />
    </>
  );
}
