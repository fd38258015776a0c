import { can, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { LoadFailure } from '../components/load-failure';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { navigate } from '../lib/router';
import { AliasForm } from './alias-form';
import { ModelVersions } from './model-versions';

export function ModelPage({ id }: { id: string }) {
  const { client, role } = useApp();
  const model = useLoad(() => client.request('get', '/v1/models/{id}', { path: { id } }), [id]);
  // The API refuses while a version is deployed, and says so; a plan's model limit counts what is left.
  const remove = useAction(async () => {
    await client.request('delete', '/v1/models/{id}', { path: { id } });
    navigate('/models');
  });
  if (!model.data)
    return model.error ? (
      <LoadFailure error={model.error} what="Model" list={{ to: '/models', name: 'models' }} />
    ) : (
      <Loading what="Loading the model" />
    );
  const m = model.data;
  return (
    <>
      <PageHeader title={`Model ${m.name}`}>
        {can.write(role) ? (
          <ConfirmButton
            label={`Delete ${m.name}`}
            confirm={`Yes, delete ${m.name} and every version`}
            onConfirm={() => void remove.run()}
            disabled={remove.busy}
          />
        ) : null}
      </PageHeader>
      <ErrorMessage error={remove.error} />
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
