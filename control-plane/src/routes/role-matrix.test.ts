import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { setOrgStanding } from '../services/orgs/standing.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

type Caller =
  | 'owner'
  | 'admin'
  | 'member'
  | 'viewer'
  | 'admin-scoped key'
  | 'models-scoped key'
  | 'deployments-scoped key';
const CALLERS: Caller[] = [
  'owner',
  'admin',
  'member',
  'viewer',
  'admin-scoped key',
  'models-scoped key',
  'deployments-scoped key',
];
/** Org management is for owners, admins and `admin`-scoped keys; everyone else gets 403. */
const MANAGERS: readonly Caller[] = ['owner', 'admin', 'admin-scoped key'];
/** Experiments and runs are written by every role but viewer, and by keys with `models:write` or `admin`. */
const WRITERS: readonly Caller[] = ['owner', 'admin', 'member', 'admin-scoped key', 'models-scoped key'];
/** Deployments are written by every role but viewer, and by keys with `deployments:write` or `admin`. */
const DEPLOYERS: readonly Caller[] = [
  'owner',
  'admin',
  'member',
  'admin-scoped key',
  'deployments-scoped key',
];
/** Notebooks belong to users: members and up make their own; no API key reaches them, `admin` included. */
const NOTEBOOK_USERS: readonly Caller[] = ['owner', 'admin', 'member'];

interface Org {
  owner: Session;
  tokens: Record<Caller, string>;
}
interface Call {
  method: string;
  path: string;
  body?: unknown;
  /** Content type of a raw (non-JSON) body. */
  type?: string;
}
interface MatrixRow {
  /** `METHOD path` exactly as /openapi.json spells it. */
  route: string;
  /** What an allowed caller gets; everyone else gets 403. */
  ok: number;
  /** Who may; MANAGERS unless said. */
  allowed?: readonly Caller[];
  /** Builds the call against a fresh target, so each caller acts on something that still exists. */
  prepare: (t: TestApp, org: Org) => Promise<Call>;
}

/** Brings a freshly registered user into the org as a viewer (invited, accepting) and returns their user id. */
async function addViewer(t: TestApp, org: Org): Promise<string> {
  return (await t.client.joinOrg(org.owner, await t.client.register('target'), 'viewer')).userId;
}

let invitees = 0;
/** An invitation of the org's owner to an address nobody has, pending. */
async function newInvitation(t: TestApp, org: Org): Promise<string> {
  invitees += 1;
  return (await t.client.invite(org.owner, `pending-${invitees}@example.com`, 'viewer')).invitation.id;
}

/** Org management routes; experiment and run writes are pushed below. */
const MATRIX: MatrixRow[] = [
  {
    route: 'POST /v1/org/invitations',
    ok: 201,
    prepare: async () => {
      invitees += 1;
      return {
        method: 'POST',
        path: '/v1/org/invitations',
        body: { email: `new-${invitees}@example.com`, role: 'viewer' },
      };
    },
  },
  {
    route: 'DELETE /v1/org/invitations/{invitationId}',
    ok: 204,
    prepare: async (t, org) => ({
      method: 'DELETE',
      path: `/v1/org/invitations/${await newInvitation(t, org)}`,
    }),
  },
  {
    route: 'PATCH /v1/org/members/{userId}',
    ok: 200,
    prepare: async (t, org) => ({
      method: 'PATCH',
      path: `/v1/org/members/${await addViewer(t, org)}`,
      body: { role: 'member' },
    }),
  },
  {
    route: 'DELETE /v1/org/members/{userId}',
    ok: 204,
    prepare: async (t, org) => ({ method: 'DELETE', path: `/v1/org/members/${await addViewer(t, org)}` }),
  },
  {
    route: 'POST /v1/api-keys',
    ok: 201,
    prepare: async () => ({
      method: 'POST',
      path: '/v1/api-keys',
      body: { name: 'ci', scopes: ['predict'] },
    }),
  },
  {
    route: 'DELETE /v1/api-keys/{id}',
    ok: 200,
    prepare: async (t, org) => {
      const key = await t.client.createKey(org.owner, { scopes: ['predict'] });
      return { method: 'DELETE', path: `/v1/api-keys/${key.id}` };
    },
  },
  {
    route: 'PATCH /v1/org',
    ok: 200,
    prepare: async () => ({ method: 'PATCH', path: '/v1/org', body: { name: 'Renamed Ltd' } }),
  },
  { route: 'GET /v1/audit-log', ok: 200, prepare: async () => ({ method: 'GET', path: '/v1/audit-log' }) },
  { route: 'GET /v1/api-keys', ok: 200, prepare: async () => ({ method: 'GET', path: '/v1/api-keys' }) },
  {
    route: 'POST /v1/allowed-images',
    ok: 201,
    prepare: async () => ({
      method: 'POST',
      path: '/v1/allowed-images',
      body: { image: 'ghcr.io/acme/lab:1' },
    }),
  },
  {
    route: 'DELETE /v1/allowed-images',
    ok: 204,
    prepare: async (t, org) => {
      names += 1;
      const image = `ghcr.io/acme/gone:${names}`;
      await t.client.call('POST', '/v1/allowed-images', { token: org.owner.accessToken, body: { image } });
      return { method: 'DELETE', path: `/v1/allowed-images?image=${image}` };
    },
  },
];

let names = 0;
/** A fresh experiment of the org's owner; each gets a new name, as names are unique in an org. */
async function newExperiment(t: TestApp, org: Org): Promise<string> {
  names += 1;
  const res = await t.client.call('POST', '/v1/experiments', {
    token: org.owner.accessToken,
    body: { name: `experiment ${names}` },
  });
  if (res.status !== 201) throw new Error(`create experiment failed: ${res.text}`);
  return res.json.id;
}

/** A fresh run holding a param, a metric and an artifact at `notes.txt`. */
async function newRun(t: TestApp, org: Org): Promise<string> {
  const token = org.owner.accessToken;
  const run = await t.client.call('POST', `/v1/experiments/${await newExperiment(t, org)}/runs`, {
    token,
    body: {},
  });
  const id: string = run.json.id;
  await t.client.call('POST', `/v1/runs/${id}/log-batch`, {
    token,
    body: { params: [{ key: 'lr', value: '0.1' }], metrics: [{ key: 'loss', value: 1, step: 0 }] },
  });
  const stored = await t.client.call('PUT', `/v1/runs/${id}/artifacts?path=notes.txt`, {
    token,
    body: 'notes',
    headers: { 'content-type': 'text/plain' },
  });
  if (stored.status !== 200) throw new Error(`prepare run failed: ${stored.text}`);
  return id;
}

/** An experiment or run write, allowed to WRITERS. */
const write = (route: string, ok: number, prepare: MatrixRow['prepare']): MatrixRow => ({
  route,
  ok,
  allowed: WRITERS,
  prepare,
});

MATRIX.push(
  write('POST /v1/experiments', 201, async () => {
    names += 1;
    return { method: 'POST', path: '/v1/experiments', body: { name: `by caller ${names}` } };
  }),
  write('PATCH /v1/experiments/{id}', 200, async (t, org) => ({
    method: 'PATCH',
    path: `/v1/experiments/${await newExperiment(t, org)}`,
    body: { description: 'described' },
  })),
  write('DELETE /v1/experiments/{id}', 200, async (t, org) => ({
    method: 'DELETE',
    path: `/v1/experiments/${await newExperiment(t, org)}`,
  })),
  write('POST /v1/experiments/{id}/runs', 201, async (t, org) => ({
    method: 'POST',
    path: `/v1/experiments/${await newExperiment(t, org)}/runs`,
    body: {},
  })),
  write('PATCH /v1/runs/{id}', 200, async (t, org) => ({
    method: 'PATCH',
    path: `/v1/runs/${await newRun(t, org)}`,
    body: { status: 'finished' },
  })),
  write('DELETE /v1/runs/{id}', 200, async (t, org) => ({
    method: 'DELETE',
    path: `/v1/runs/${await newRun(t, org)}`,
  })),
  write('POST /v1/runs/{id}/params', 200, async (t, org) => ({
    method: 'POST',
    path: `/v1/runs/${await newRun(t, org)}/params`,
    body: { params: [{ key: 'epochs', value: '3' }] },
  })),
  write('POST /v1/runs/{id}/metrics', 200, async (t, org) => ({
    method: 'POST',
    path: `/v1/runs/${await newRun(t, org)}/metrics`,
    body: { metrics: [{ key: 'loss', value: 0.5, step: 1 }] },
  })),
  write('PUT /v1/runs/{id}/tags', 200, async (t, org) => ({
    method: 'PUT',
    path: `/v1/runs/${await newRun(t, org)}/tags`,
    body: { tags: { team: 'core' } },
  })),
  write('POST /v1/runs/{id}/log-batch', 200, async (t, org) => ({
    method: 'POST',
    path: `/v1/runs/${await newRun(t, org)}/log-batch`,
    body: { tags: [{ key: 'team', value: 'core' }] },
  })),
  write('PUT /v1/runs/{id}/artifacts', 200, async (t, org) => ({
    method: 'PUT',
    path: `/v1/runs/${await newRun(t, org)}/artifacts?path=plot.txt`,
    body: 'plot',
    type: 'text/plain',
  })),
  write('DELETE /v1/runs/{id}/artifacts', 200, async (t, org) => ({
    method: 'DELETE',
    path: `/v1/runs/${await newRun(t, org)}/artifacts?path=notes.txt`,
  })),
);

/** A fresh model of the org's owner with a ready version 1 (and, when asked, the alias `production` on it). */
async function newModel(t: TestApp, org: Org, options: { alias?: boolean } = {}): Promise<string> {
  names += 1;
  const token = org.owner.accessToken;
  const model = await t.client.call('POST', '/v1/models', { token, body: { name: `model-${names}` } });
  const id: string = model.json.id;
  const version = await t.client.call('POST', `/v1/models/${id}/versions?filename=net.pt`, {
    token,
    body: 'weights',
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (version.status !== 201) throw new Error(`prepare model failed: ${version.text}`);
  if (options.alias)
    await t.client.call('PUT', `/v1/models/${id}/aliases/production`, { token, body: { version: 1 } });
  return id;
}

/** A multipart upload the owner started and sent its one part for, ready to complete; returns the call. */
async function pendingUpload(t: TestApp, org: Org): Promise<Call> {
  const id = await newModel(t, org);
  const started = await t.client.call('POST', `/v1/models/${id}/versions/uploads`, {
    token: org.owner.accessToken,
    body: { filename: 'net.pt', sizeBytes: 5, partCount: 1 },
  });
  const url = new URL(started.json.parts[0].url);
  const put = await t.app.request(url.pathname + url.search, { method: 'PUT', body: 'bytes' });
  const etag = put.headers.get('etag') ?? '';
  return {
    method: 'POST',
    path: `/v1/models/${id}/versions/2/complete`,
    body: { parts: [{ partNumber: 1, etag }] },
  };
}

MATRIX.push(
  write('POST /v1/models', 201, async () => {
    names += 1;
    return { method: 'POST', path: '/v1/models', body: { name: `by-caller-${names}` } };
  }),
  write('PATCH /v1/models/{id}', 200, async (t, org) => ({
    method: 'PATCH',
    path: `/v1/models/${await newModel(t, org)}`,
    body: { description: 'described' },
  })),
  write('DELETE /v1/models/{id}', 204, async (t, org) => ({
    method: 'DELETE',
    path: `/v1/models/${await newModel(t, org)}`,
  })),
  write('PUT /v1/models/{id}/aliases/{alias}', 200, async (t, org) => ({
    method: 'PUT',
    path: `/v1/models/${await newModel(t, org)}/aliases/staging`,
    body: { version: 1 },
  })),
  write('DELETE /v1/models/{id}/aliases/{alias}', 204, async (t, org) => ({
    method: 'DELETE',
    path: `/v1/models/${await newModel(t, org, { alias: true })}/aliases/production`,
  })),
  write('POST /v1/models/{id}/versions', 201, async (t, org) => ({
    method: 'POST',
    path: `/v1/models/${await newModel(t, org)}/versions?filename=clf.pkl`,
    body: 'pickle',
    type: 'application/octet-stream',
  })),
  write('POST /v1/models/{id}/versions/uploads', 201, async (t, org) => ({
    method: 'POST',
    path: `/v1/models/${await newModel(t, org)}/versions/uploads`,
    body: { filename: 'net.pt', sizeBytes: 5, partCount: 1 },
  })),
  write('POST /v1/models/{id}/versions/{version}/complete', 200, pendingUpload),
  write('PATCH /v1/models/{id}/versions/{version}', 200, async (t, org) => ({
    method: 'PATCH',
    path: `/v1/models/${await newModel(t, org)}/versions/1`,
    body: { tags: { stage: 'eval' } },
  })),
  write('DELETE /v1/models/{id}/versions/{version}', 204, async (t, org) => ({
    method: 'DELETE',
    path: `/v1/models/${await newModel(t, org)}/versions/1`,
  })),
);

let deploymentNames = 0;
/** A fresh deployment of a fresh model (PyTorch, so on the container runtime with an image). */
async function newDeploymentBody(t: TestApp, org: Org) {
  deploymentNames += 1;
  const model = await newModel(t, org);
  // Creation checks the org's allow-list; a fresh tag each time, since adding one twice is a 409.
  const image = `ghcr.io/acme/x:${deploymentNames}`;
  await t.client.call('POST', '/v1/allowed-images', { token: org.owner.accessToken, body: { image } });
  return {
    name: `deployment-${deploymentNames}`,
    model,
    version: 1,
    image,
    gpuType: 'cpu',
  };
}
async function newDeployment(t: TestApp, org: Org): Promise<string> {
  const res = await t.client.call('POST', '/v1/deployments', {
    token: org.owner.accessToken,
    body: await newDeploymentBody(t, org),
  });
  if (res.status !== 201) throw new Error(`prepare deployment failed: ${res.text}`);
  return res.json.id;
}

/** A fresh notebook of the org's owner, asked to run, or stopped first when asked. */
async function newNotebook(t: TestApp, org: Org, options: { stopped?: boolean } = {}): Promise<string> {
  names += 1;
  const token = org.owner.accessToken;
  const res = await t.client.call('POST', '/v1/notebooks', {
    token,
    body: { name: `nb-${names}`, gpuType: 't4' },
  });
  if (res.status !== 201) throw new Error(`prepare notebook failed: ${res.text}`);
  if (options.stopped) await t.client.call('POST', `/v1/notebooks/${res.json.id}/stop`, { token });
  return res.json.id;
}

/** Files and batch jobs feed predictions: every role but viewer, and keys with `predict` (the models-scoped key has it) or `admin`. */
const PREDICTORS: readonly Caller[] = ['owner', 'admin', 'member', 'admin-scoped key', 'models-scoped key'];
const LINE = '{"custom_id":"a","method":"POST","url":"/v1/deployments/x/predict","body":{"inputs":{}}}\n';
/** A fresh batch input file of the org's owner. */
async function newFile(t: TestApp, org: Org): Promise<string> {
  const res = await t.client.call('POST', '/v1/files?filename=lines.jsonl&purpose=batch', {
    token: org.owner.accessToken,
    body: LINE,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`prepare file failed: ${res.text}`);
  return res.json.id;
}
async function newBatchJobBody(t: TestApp, org: Org) {
  return { deployment: await newDeployment(t, org), inputFileId: await newFile(t, org) };
}

MATRIX.push(
  {
    route: 'POST /v1/files',
    ok: 201,
    allowed: PREDICTORS,
    prepare: async () => ({
      method: 'POST',
      path: '/v1/files?filename=lines.jsonl&purpose=batch',
      body: LINE,
      type: 'application/octet-stream',
    }),
  },
  {
    route: 'DELETE /v1/files/{id}',
    ok: 204,
    allowed: PREDICTORS,
    prepare: async (t, org) => ({ method: 'DELETE', path: `/v1/files/${await newFile(t, org)}` }),
  },
  {
    route: 'POST /v1/batch-jobs',
    ok: 201,
    allowed: PREDICTORS,
    prepare: async (t, org) => ({
      method: 'POST',
      path: '/v1/batch-jobs',
      body: await newBatchJobBody(t, org),
    }),
  },
  {
    route: 'POST /v1/batch-jobs/{id}/cancel',
    ok: 200,
    allowed: PREDICTORS,
    prepare: async (t, org) => {
      const job = await t.client.call('POST', '/v1/batch-jobs', {
        token: org.owner.accessToken,
        body: await newBatchJobBody(t, org),
      });
      if (job.status !== 201) throw new Error(`prepare batch job failed: ${job.text}`);
      return { method: 'POST', path: `/v1/batch-jobs/${job.json.id}/cancel` };
    },
  },
);

MATRIX.push(
  {
    route: 'POST /v1/deployments',
    ok: 201,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({
      method: 'POST',
      path: '/v1/deployments',
      body: await newDeploymentBody(t, org),
    }),
  },
  {
    route: 'PATCH /v1/deployments/{id}',
    ok: 200,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({
      method: 'PATCH',
      path: `/v1/deployments/${await newDeployment(t, org)}`,
      body: { maxReplicas: 3 },
    }),
  },
  {
    route: 'DELETE /v1/deployments/{id}',
    ok: 204,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({ method: 'DELETE', path: `/v1/deployments/${await newDeployment(t, org)}` }),
  },
  {
    route: 'POST /v1/notebooks',
    ok: 201,
    allowed: NOTEBOOK_USERS,
    prepare: async () => {
      names += 1;
      return { method: 'POST', path: '/v1/notebooks', body: { name: `by-caller-${names}`, gpuType: 'cpu' } };
    },
  },
  // The notebook is the org owner's: only they may start it; owners and admins may stop or delete anyone's.
  {
    route: 'POST /v1/notebooks/{id}/start',
    ok: 200,
    allowed: ['owner'],
    prepare: async (t, org) => ({
      method: 'POST',
      path: `/v1/notebooks/${await newNotebook(t, org, { stopped: true })}/start`,
    }),
  },
  {
    route: 'POST /v1/notebooks/{id}/stop',
    ok: 200,
    allowed: ['owner', 'admin'],
    prepare: async (t, org) => ({ method: 'POST', path: `/v1/notebooks/${await newNotebook(t, org)}/stop` }),
  },
  {
    route: 'DELETE /v1/notebooks/{id}',
    ok: 204,
    allowed: ['owner', 'admin'],
    prepare: async (t, org) => ({ method: 'DELETE', path: `/v1/notebooks/${await newNotebook(t, org)}` }),
  },
);

/** Usage and spend: owners, admins and admin-scoped keys (`billing:read` keys: routes/billing.test.ts). */
const billingRead = (path: string): MatrixRow => ({
  route: `GET ${path}`,
  ok: 200,
  prepare: async () => ({ method: 'GET', path }),
});
MATRIX.push(
  billingRead('/v1/billing/usage'),
  billingRead('/v1/billing/stats'),
  billingRead('/v1/billing/invoices/upcoming'),
  // Last: it leaves the org on Free or Pro, whose model limits the rows above would run into.
  {
    route: 'PUT /v1/billing/plan',
    ok: 200,
    allowed: ['owner', 'admin-scoped key'],
    prepare: async (t, org) => {
      await setOrgStanding(t.db, org.owner.orgId, { plan: 'free' });
      return { method: 'PUT', path: '/v1/billing/plan', body: { plan: 'pro' } };
    },
  },
);

/** Bearer routes that change state yet are not org management, and why they are outside the matrix. */
const NOT_MANAGEMENT: Record<string, string> = {
  'POST /v1/auth/switch-org': 'any member may switch to an org they belong to; keys never (tested below)',
  'POST /v1/orgs': 'any user may create an org of their own; keys never (tested below)',
  'POST /v1/auth/password':
    'a user changes their own password; keys have none (routes/auth-sessions.test.ts)',
  'POST /v1/invitations/preview':
    'only the invitee, with the token, reads an invitation; keys never (routes/invitations.test.ts)',
  'POST /v1/invitations/accept':
    'only the invitee, with the token, answers an invitation; keys never (routes/invitations.test.ts)',
  'POST /v1/invitations/decline':
    'only the invitee, with the token, answers an invitation; keys never (routes/invitations.test.ts)',
};

/** A notification channel (e-mail: no network) of the org, made by its owner. */
async function newChannel(t: TestApp, org: Org): Promise<string> {
  names += 1;
  const res = await t.client.call('POST', '/v1/notification-channels', {
    token: org.owner.accessToken,
    body: { name: `ch-${names}`, kind: 'email', target: `ops-${names}@example.com` },
  });
  if (res.status !== 201) throw new Error(`prepare channel failed: ${res.text}`);
  return res.json.id;
}
async function newRule(t: TestApp, org: Org): Promise<string> {
  names += 1;
  const res = await t.client.call('POST', '/v1/alert-rules', {
    token: org.owner.accessToken,
    body: { name: `rule-${names}`, metric: 'error_rate', windowSeconds: 300, threshold: 0.1, channelIds: [] },
  });
  if (res.status !== 201) throw new Error(`prepare rule failed: ${res.text}`);
  return res.json.id;
}
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

// Alert rules, silences and channels are written like deployments.
MATRIX.push(
  {
    route: 'POST /v1/alert-rules',
    ok: 201,
    allowed: DEPLOYERS,
    prepare: async () => ({
      method: 'POST',
      path: '/v1/alert-rules',
      body: { name: 'errors', metric: 'error_rate', windowSeconds: 300, threshold: 0.1, channelIds: [] },
    }),
  },
  {
    route: 'PATCH /v1/alert-rules/{id}',
    ok: 200,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({
      method: 'PATCH',
      path: `/v1/alert-rules/${await newRule(t, org)}`,
      body: { threshold: 0.2 },
    }),
  },
  {
    route: 'DELETE /v1/alert-rules/{id}',
    ok: 204,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({ method: 'DELETE', path: `/v1/alert-rules/${await newRule(t, org)}` }),
  },
  {
    route: 'POST /v1/alert-silences',
    ok: 201,
    allowed: DEPLOYERS,
    prepare: async () => ({ method: 'POST', path: '/v1/alert-silences', body: { endsAt: inAnHour() } }),
  },
  {
    route: 'DELETE /v1/alert-silences/{id}',
    ok: 204,
    allowed: DEPLOYERS,
    prepare: async (t, org) => {
      const res = await t.client.call('POST', '/v1/alert-silences', {
        token: org.owner.accessToken,
        body: { endsAt: inAnHour() },
      });
      return { method: 'DELETE', path: `/v1/alert-silences/${res.json.id}` };
    },
  },
  {
    route: 'POST /v1/notification-channels',
    ok: 201,
    allowed: DEPLOYERS,
    prepare: async () => ({
      method: 'POST',
      path: '/v1/notification-channels',
      body: { name: 'mail', kind: 'email', target: 'ops@example.com' },
    }),
  },
  {
    route: 'DELETE /v1/notification-channels/{id}',
    ok: 204,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({
      method: 'DELETE',
      path: `/v1/notification-channels/${await newChannel(t, org)}`,
    }),
  },
  {
    route: 'POST /v1/notification-channels/{id}/test',
    ok: 200,
    allowed: DEPLOYERS,
    prepare: async (t, org) => ({
      method: 'POST',
      path: `/v1/notification-channels/${await newChannel(t, org)}/test`,
    }),
  },
);

describe('what each role and API key may do in an organisation', () => {
  let t: TestApp;
  let org: Org;

  beforeAll(async () => {
    t = await createTestApp();
    const owner = await t.client.register('owner');
    const join = async (role: string) =>
      (await t.client.joinOrg(owner, await t.client.register(role), role)).accessToken;
    org = {
      owner,
      tokens: {
        owner: owner.accessToken,
        admin: await join('admin'),
        member: await join('member'),
        viewer: await join('viewer'),
        'admin-scoped key': (await t.client.createKey(owner, { scopes: ['admin'] })).secret,
        'models-scoped key': (await t.client.createKey(owner, { scopes: ['predict', 'models:write'] }))
          .secret,
        'deployments-scoped key': (await t.client.createKey(owner, { scopes: ['deployments:write'] })).secret,
      },
    };
  });
  afterAll(() => t.cleanup());

  const asCaller = (caller: Caller, call: Call) =>
    t.client.call(call.method, call.path, {
      token: org.tokens[caller],
      ...(call.body === undefined ? {} : { body: call.body }),
      ...(call.type ? { headers: { 'content-type': call.type } } : {}),
    });
  const latestAuditId = async () =>
    (await t.client.call('GET', '/v1/audit-log?limit=1', { token: org.owner.accessToken })).json.items[0]?.id;

  it('covers every mutating bearer route of /openapi.json', async () => {
    const doc = (await t.client.call('GET', '/openapi.json')).json as {
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
    };
    const mutating = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([method, op]) => method !== 'get' && op.security?.some((s) => 'bearer' in s))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    const covered = [...MATRIX.map((row) => row.route), ...Object.keys(NOT_MANAGEMENT)];
    // A route listed here has no role expectations yet: add a row to MATRIX.
    expect(mutating.filter((route) => !covered.includes(route))).toEqual([]);
  });

  for (const row of MATRIX) {
    for (const caller of CALLERS) {
      const allowed = (row.allowed ?? MANAGERS).includes(caller);
      const status = allowed ? row.ok : 403;
      it(`${row.route} answers ${status} to the ${caller}`, async () => {
        const call = await row.prepare(t, org);
        const before = await latestAuditId();
        const res = await asCaller(caller, call);
        expect(res.status, res.text).toBe(status);
        if (!allowed) {
          expect(res.json.error.code).toBe('forbidden');
          // A refused call changes nothing: every mutation writes an audit entry, and none appeared.
          expect(await latestAuditId()).toBe(before);
        }
      });
    }
  }

  it('says in words who may, when it refuses: the roles, or the scope a key lacks', async () => {
    const refusedTo = async (caller: Caller, method: string, path: string, body?: unknown) => {
      const res = await asCaller(caller, { method, path, body });
      expect(res.status, res.text).toBe(403);
      return res.json.error.message;
    };
    expect(await refusedTo('member', 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] })).toBe(
      'Managing API keys needs the owner or admin role; you are a member here',
    );
    expect(await refusedTo('viewer', 'POST', '/v1/experiments', { name: 'refused' })).toBe(
      'Changing experiments needs the owner, admin or member role; you are a viewer here',
    );
    expect(await refusedTo('models-scoped key', 'DELETE', `/v1/deployments/dep_${'0'.repeat(26)}`)).toBe(
      'This API key does not allow changing deployments: it needs the deployments:write or admin scope',
    );
    expect(await refusedTo('deployments-scoped key', 'GET', '/v1/audit-log')).toBe(
      'This API key does not allow reading the audit log: it needs the admin scope',
    );
  });

  it('lets an admin neither grant the owner role nor demote or remove an owner', async () => {
    const invitee = await t.client.register('would-be-owner');
    const viewerId = await addViewer(t, org);
    const attempts: Call[] = [
      { method: 'POST', path: '/v1/org/invitations', body: { email: invitee.email, role: 'owner' } },
      { method: 'PATCH', path: `/v1/org/members/${viewerId}`, body: { role: 'owner' } },
      { method: 'PATCH', path: `/v1/org/members/${org.owner.userId}`, body: { role: 'admin' } },
      { method: 'DELETE', path: `/v1/org/members/${org.owner.userId}` },
    ];
    for (const caller of ['admin', 'admin-scoped key'] as const) {
      for (const attempt of attempts) {
        const res = await asCaller(caller, attempt);
        expect(res.status, `${caller} ${attempt.method} ${attempt.path}`).toBe(403);
      }
    }
    const members = await asCaller('owner', { method: 'GET', path: '/v1/org/members' });
    const owners = members.json.items.filter((m: { role: string }) => m.role === 'owner');
    expect(owners.map((m: { userId: string }) => m.userId)).toEqual([org.owner.userId]);
  });

  it('keeps the last owner: not even that owner may demote or remove themself', async () => {
    const self = `/v1/org/members/${org.owner.userId}`;
    const demoted = await asCaller('owner', { method: 'PATCH', path: self, body: { role: 'admin' } });
    expect(demoted.status).toBe(409);
    expect(demoted.json.error.code).toBe('conflict');
    const removed = await asCaller('owner', { method: 'DELETE', path: self });
    expect(removed.status).toBe(409);
    const me = await asCaller('owner', { method: 'GET', path: '/v1/auth/me' });
    expect(me.json.role).toBe('owner');
  });

  it('lets an owner add a second owner, after which the first may leave', async () => {
    const founder = await t.client.register('founder');
    const created = await t.client.call('POST', '/v1/orgs', {
      token: founder.accessToken,
      body: { name: 'Handover Ltd' },
    });
    expect(created.status).toBe(201);
    const inOrg = await t.client.call('POST', '/v1/auth/switch-org', {
      token: founder.accessToken,
      body: { orgId: created.json.id },
    });
    const founderHere: Session = { ...founder, accessToken: inOrg.json.accessToken, orgId: created.json.id };
    const successor = await t.client.joinOrg(founderHere, await t.client.register('successor'), 'owner');

    const left = await t.client.call('DELETE', `/v1/org/members/${founder.userId}`, {
      token: founderHere.accessToken,
    });
    expect(left.status).toBe(204);
    const members = await t.client.call('GET', '/v1/org/members', { token: successor.accessToken });
    expect(members.json.items).toEqual([
      expect.objectContaining({ userId: successor.userId, role: 'owner' }),
    ]);
    const successorLeaves = await t.client.call('DELETE', `/v1/org/members/${successor.userId}`, {
      token: successor.accessToken,
    });
    expect(successorLeaves.status).toBe(409);
  });

  it("rejects a removed member's unexpired access token with 401 at once", async () => {
    const leaver = await t.client.joinOrg(org.owner, await t.client.register('leaver'), 'member');
    expect((await t.client.call('GET', '/v1/org', { token: leaver.accessToken })).status).toBe(200);
    const removed = await t.client.call('DELETE', `/v1/org/members/${leaver.userId}`, {
      token: org.owner.accessToken,
    });
    expect(removed.status).toBe(204);
    const after = await t.client.call('GET', '/v1/org', { token: leaver.accessToken });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('unauthenticated');
  });

  it('refuses any API key, even an admin one, to create an org or switch org', async () => {
    for (const caller of ['admin-scoped key', 'models-scoped key'] as const) {
      const created = await asCaller(caller, {
        method: 'POST',
        path: '/v1/orgs',
        body: { name: 'Side Org' },
      });
      expect(created.status).toBe(403);
      expect(created.json.error.code).toBe('forbidden');
      const switched = await asCaller(caller, {
        method: 'POST',
        path: '/v1/auth/switch-org',
        body: { orgId: org.owner.orgId },
      });
      expect(switched.status).toBe(403);
      expect(switched.json.error.code).toBe('forbidden');
    }
  });
});
