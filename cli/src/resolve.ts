import { type MeridianClient, NotFoundError, type Schema } from '@meridian/sdk';
import { CliError } from './context.js';

/** A model by id (mdl_…) or name. */
export async function findModel(client: MeridianClient, ref: string): Promise<Schema<'Model'> | undefined> {
  if (/^mdl_/.test(ref)) {
    try {
      return await client.request('get', '/v1/models/{id}', { path: { id: ref } });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }
  const { items } = await client.request('get', '/v1/models', { query: { name: ref } });
  return items.find((m) => m.name === ref);
}

export async function requireModel(client: MeridianClient, ref: string): Promise<Schema<'Model'>> {
  const model = await findModel(client, ref);
  if (!model) throw new CliError(`No model named ${ref}`);
  return model;
}

/** A deployment by id (dep_…) or name. */
export async function findDeployment(
  client: MeridianClient,
  ref: string,
): Promise<Schema<'Deployment'> | undefined> {
  if (/^dep_/.test(ref)) {
    try {
      return await client.request('get', '/v1/deployments/{id}', { path: { id: ref } });
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }
  const { items } = await client.request('get', '/v1/deployments', { query: { name: ref } });
  return items.find((d) => d.name === ref);
}

export async function requireDeployment(client: MeridianClient, ref: string): Promise<Schema<'Deployment'>> {
  const deployment = await findDeployment(client, ref);
  if (!deployment) throw new CliError(`No deployment named ${ref}`);
  return deployment;
}

/** A notebook by id (nb_…) or name: the newest of that name. */
export async function requireNotebook(client: MeridianClient, ref: string): Promise<Schema<'Notebook'>> {
  for await (const notebook of client.list('/v1/notebooks')) {
    if (notebook.id === ref || notebook.name === ref) return notebook;
  }
  throw new CliError(`No notebook named ${ref}`);
}
