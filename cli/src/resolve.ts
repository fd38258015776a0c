import { type MeridianClient, NotFoundError, type Schema } from '@meridian/sdk';
import { CliError } from './context.js';

// Whole ids only: names may start with `mdl_` or `dep_` too (`dep_ocr` is a valid deployment name), and a
// name was sent to GET /v1/deployments/{id} as an id, refused with 400, so such a resource could not be named.
const MODEL_ID = /^mdl_[0-9a-z]{26}$/;
const DEPLOYMENT_ID = /^dep_[0-9a-z]{26}$/;

/** A model by id (mdl_…) or name; a ref shaped like an id that no model has is looked for as a name. */
export async function findModel(client: MeridianClient, ref: string): Promise<Schema<'Model'> | undefined> {
  if (MODEL_ID.test(ref)) {
    try {
      return await client.request('get', '/v1/models/{id}', { path: { id: ref } });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
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

/** A deployment by id (dep_…) or name; a ref shaped like an id that no deployment has is looked for as a name. */
export async function findDeployment(
  client: MeridianClient,
  ref: string,
): Promise<Schema<'Deployment'> | undefined> {
  if (DEPLOYMENT_ID.test(ref)) {
    try {
      return await client.request('get', '/v1/deployments/{id}', { path: { id: ref } });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
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

/** The first item of a listing (newest first) whose id or name is `ref`; stops paging once found. */
async function firstNamed<T extends { id: string; name: string }>(
  items: AsyncIterable<T>,
  ref: string,
): Promise<T | undefined> {
  for await (const item of items) if (item.id === ref || item.name === ref) return item;
  return undefined;
}

/** What a kind of resource is called in messages: `notification channel`, and the command that lists them. */
export interface Noun {
  one: string;
  many: string;
  list: string;
}

/**
 * The item whose id is `ref`, else the only one named `ref`. Names need not be unique, so a name that several
 * share is refused with their ids rather than acting on whichever the server listed first.
 */
export function pickNamed<T extends { id: string; name: string }>(
  items: readonly T[],
  ref: string,
  noun: Noun,
): T {
  const byId = items.find((item) => item.id === ref);
  if (byId) return byId;
  const [only, ...others] = items.filter((item) => item.name === ref);
  if (!only) throw new CliError(`No ${noun.one} named ${ref} (${noun.list})`);
  if (others.length > 0) {
    const ids = [only, ...others].map((item) => item.id).join(', ');
    throw new CliError(
      `${others.length + 1} ${noun.many} are named ${ref} (${ids}): give the id of the one you mean`,
    );
  }
  return only;
}

/** A notebook by id (nb_…) or name: the newest of that name. */
export async function requireNotebook(client: MeridianClient, ref: string): Promise<Schema<'Notebook'>> {
  const notebook = await firstNamed(client.list('/v1/notebooks'), ref);
  if (!notebook) throw new CliError(`No notebook named ${ref}`);
  return notebook;
}

/** An experiment by id (exp_…) or name; names are unique in an organisation (the API has no name filter). */
export async function requireExperiment(client: MeridianClient, ref: string): Promise<Schema<'Experiment'>> {
  const experiment = await firstNamed(client.list('/v1/experiments'), ref);
  if (!experiment) throw new CliError(`No experiment named ${ref} (meridian experiments list)`);
  return experiment;
}

/**
 * An API key by id (key_…), or by name among the active keys: names need not be unique, so a name that
 * several active keys share is refused with their ids rather than revoking one at random.
 */
export async function requireActiveKey(
  client: MeridianClient,
  ref: string,
): Promise<{ id: string; name: string }> {
  const matches: Schema<'ApiKey'>[] = [];
  for await (const key of client.list('/v1/api-keys')) {
    if (key.id === ref) return key;
    if (key.name === ref && key.status === 'active') matches.push(key);
  }
  // An id this org does not list: the server says why (404), as it would for any other id.
  if (/^key_/.test(ref) && matches.length === 0) return { id: ref, name: ref };
  const [only, ...others] = matches;
  if (!only) throw new CliError(`No active key named ${ref}`);
  if (others.length > 0)
    throw new CliError(
      `${matches.length} active keys are named ${ref} (${matches.map((k) => k.id).join(', ')}): give the id of the one to revoke`,
    );
  return only;
}
