import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const PASSWORD = 'correct horse battery';

/** One organisation as the matrix sees it: members, an admin-scoped key, and an experiment with a run. */
interface Tenant {
  orgId: string;
  orgName: string;
  owner: Session;
  member: Session;
  key: { id: string; secret: string; name: string };
  experiment: { id: string; name: string };
  run: { id: string; name: string };
  artifactPath: string;
  model: { id: string; name: string };
  deployment: { id: string; name: string };
  notebook: { id: string; name: string; token: string };
  channel: { id: string; name: string };
  rule: { id: string; name: string };
  silence: { id: string };
  file: { id: string; filename: string };
  batchJob: { id: string };
  /** A pending invitation of the org's, to an address nobody has, with the token its link carries. */
  invitation: { id: string; email: string; token: string };
}

async function createTenant(t: TestApp, label: string): Promise<Tenant> {
  const owner = await t.client.register(`${label}-owner`);
  const as = async (method: string, path: string, body: unknown, type?: string) => {
    const res = await t.client.call(method, path, {
      token: owner.accessToken,
      body,
      ...(type ? { headers: { 'content-type': type } } : {}),
    });
    if (res.status >= 300) throw new Error(`${method} ${path} failed: ${res.status} ${res.text}`);
    return res.json;
  };
  const orgName = `${label} Industries`;
  await as('PATCH', '/v1/org', { name: orgName });
  const member = await t.client.joinOrg(owner, await t.client.register(`${label}-member`), 'member');
  const name = `${label} admin key`;
  const key = await t.client.createKey(owner, { name, scopes: ['admin'] });
  const experiment = await as('POST', '/v1/experiments', { name: `${label} experiment` });
  const run = await as('POST', `/v1/experiments/${experiment.id}/runs`, { name: `${label} run` });
  await as('POST', `/v1/runs/${run.id}/log-batch`, {
    metrics: [{ key: 'loss', value: 0.5, step: 0 }],
    params: [{ key: 'lr', value: '0.1' }],
    tags: [{ key: 'team', value: label }],
  });
  const artifactPath = `${label}-notes.txt`;
  await as('PUT', `/v1/runs/${run.id}/artifacts?path=${artifactPath}`, `${label} notes`, 'text/plain');
  const model = await as('POST', '/v1/models', { name: `${label}-model` });
  await as(
    'POST',
    `/v1/models/${model.id}/versions?filename=net.pt`,
    `${label} weights`,
    'application/octet-stream',
  );
  await as('PUT', `/v1/models/${model.id}/aliases/production`, { version: 1 });
  await as('POST', '/v1/allowed-images', { image: 'ghcr.io/acme/torch-server:2.1' });
  const deployment = await as('POST', '/v1/deployments', {
    name: `${label}-deployment`,
    model: model.name,
    alias: 'production',
    image: 'ghcr.io/acme/torch-server:2.1',
    gpuType: 'cpu',
  });
  const notebook = await as('POST', '/v1/notebooks', { name: `${label}-notebook`, gpuType: 't4' });
  const channel = await as('POST', '/v1/notification-channels', {
    name: `${label} pager`,
    kind: 'email',
    target: `${label}-oncall@example.com`,
  });
  const rule = await as('POST', '/v1/alert-rules', {
    name: `${label} errors`,
    metric: 'error_rate',
    deploymentId: deployment.id,
    windowSeconds: 300,
    threshold: 0.1,
    channelIds: [channel.id],
  });
  const silence = await as('POST', '/v1/alert-silences', {
    ruleId: rule.id,
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  const filename = `${label}-lines.jsonl`;
  const file = await as(
    'POST',
    `/v1/files?filename=${filename}&purpose=batch`,
    '{"custom_id":"a","method":"POST","url":"/v1/deployments/x/predict","body":{"inputs":{}}}\n',
    'application/octet-stream',
  );
  const batchJob = await as('POST', '/v1/batch-jobs', { deployment: deployment.id, inputFileId: file.id });
  const invited = await t.client.invite(owner, `${label}-invitee@example.com`, 'member');
  if (!invited.token) throw new Error('no invitation token: the test app has no mailer, so it comes back');
  // Calls to its deployment, as the edge reports them: they become the org's billed usage.
  const usage = await t.client.call('POST', '/internal/v1/usage', {
    token: t.edgeServiceToken,
    body: {
      batchId: `edge-${label}`,
      records: [
        {
          orgId: owner.orgId,
          keyId: key.id,
          userId: null,
          deploymentId: deployment.id,
          minute: `${new Date().toISOString().slice(0, 16)}:00Z`,
          calls: 7,
          bytesIn: 10,
          bytesOut: 10,
        },
      ],
    },
  });
  if (usage.status !== 200) throw new Error(`usage failed: ${usage.status} ${usage.text}`);
  return {
    orgId: owner.orgId,
    orgName,
    owner,
    member,
    key: { ...key, name },
    experiment: { id: experiment.id, name: experiment.name },
    run: { id: run.id, name: run.name },
    artifactPath,
    model: { id: model.id, name: model.name },
    deployment: { id: deployment.id, name: deployment.name },
    notebook: { id: notebook.id, name: notebook.name, token: notebook.token },
    channel: { id: channel.id, name: channel.name },
    rule: { id: rule.id, name: rule.name },
    silence: { id: silence.id },
    file: { id: file.id, filename },
    batchJob: { id: batchJob.id },
    invitation: { id: invited.invitation.id, email: invited.invitation.email, token: invited.token },
  };
}

/** A tenant whose ids are well formed but exist nowhere: what "not found" looks like without a tenant. */
function ghostTenant(): Tenant {
  const zeros = '0'.repeat(26);
  const session = (userId: string): Session => ({
    accessToken: '',
    refreshToken: '',
    userId,
    orgId: `org_${zeros}`,
    email: 'nobody@example.com',
  });
  return {
    orgId: `org_${zeros}`,
    orgName: 'Nowhere',
    owner: session(`usr_${zeros}`),
    member: session(`usr_${'1'.repeat(26)}`),
    key: { id: `key_${zeros}`, secret: '', name: 'none' },
    experiment: { id: `exp_${zeros}`, name: 'none' },
    run: { id: `run_${zeros}`, name: 'none' },
    artifactPath: 'ghost-notes.txt',
    model: { id: `mdl_${zeros}`, name: 'none' },
    deployment: { id: `dep_${zeros}`, name: 'none' },
    notebook: { id: `nb_${zeros}`, name: 'none', token: 'none' },
    channel: { id: `nch_${zeros}`, name: 'none' },
    rule: { id: `alr_${zeros}`, name: 'none' },
    silence: { id: `als_${zeros}` },
    file: { id: `file_${zeros}`, filename: 'none.jsonl' },
    batchJob: { id: `batch_${zeros}` },
    invitation: { id: `inv_${zeros}`, email: 'nobody-invited@example.com', token: `tok_${zeros}` },
  };
}

/** Everything of B's that must never appear in an answer given to A. */
function secretsOf(b: Tenant): string[] {
  return [
    b.orgId,
    b.orgName,
    b.owner.userId,
    b.owner.email,
    b.member.userId,
    b.member.email,
    b.key.id,
    b.key.name,
    b.key.secret.slice(0, 12),
    b.experiment.id,
    b.experiment.name,
    b.run.id,
    b.run.name,
    b.artifactPath,
    b.model.id,
    b.model.name,
    b.deployment.id,
    b.deployment.name,
    b.notebook.id,
    b.notebook.name,
    b.notebook.token,
    b.file.id,
    b.file.filename,
    b.batchJob.id,
    b.invitation.id,
    b.invitation.email,
    b.invitation.token,
  ];
}

type Credential = "A's owner token" | "A's admin API key" | "A's owner password";
interface Attempt {
  method: string;
  path: string;
  body?: unknown;
  type?: string;
}
interface IsolationCase {
  /** `METHOD path` exactly as /openapi.json spells it. */
  route: string;
  /** The status org A gets, per credential it can try with. */
  expected: Partial<Record<Credential, number>>;
  /** What of B's the route is aimed at. */
  what: string;
  attempt: (a: Tenant, b: Tenant) => Attempt;
}

const NOT_FOUND_FOR_BOTH = { "A's owner token": 404, "A's admin API key": 404 } as const;

/**
 * `route` aimed at B: `{id}`/`{userId}` becomes `id(b)`, `{key}` a metric B logged; `extra` adds a query
 * string (with B's artifact path) or a body.
 */
function onB(
  route: string,
  what: string,
  id: (b: Tenant) => string,
  extra: { query?: (b: Tenant) => string; body?: unknown; type?: string } = {},
): IsolationCase {
  const [method = '', template = ''] = route.split(' ');
  return {
    route,
    expected: NOT_FOUND_FOR_BOTH,
    what,
    attempt: (_a, b) => ({
      method,
      path:
        template
          .replace(/\{(id|userId|invitationId)\}/, id(b))
          .replace('{key}', 'loss')
          .replace('{version}', '1')
          .replace('{alias}', 'production') + (extra.query?.(b) ?? ''),
      body: extra.body,
      ...(extra.type ? { type: extra.type } : {}),
    }),
  };
}

const keyId = (b: Tenant) => b.key.id;
const experimentId = (b: Tenant) => b.experiment.id;
const runId = (b: Tenant) => b.run.id;
const artifact = (b: Tenant) => `?path=${b.artifactPath}`;
const modelId = (b: Tenant) => b.model.id;
const deploymentId = (b: Tenant) => b.deployment.id;
const notebookId = (b: Tenant) => b.notebook.id;
const channelId = (b: Tenant) => b.channel.id;
const ruleId = (b: Tenant) => b.rule.id;
const silenceId = (b: Tenant) => b.silence.id;
/** A rule or silence of A's that names one of B's resources in its body. */
const referToB = (route: string, what: string, body: (b: Tenant) => unknown): IsolationCase => {
  const [method = '', path = ''] = route.split(' ');
  return { route, expected: NOT_FOUND_FOR_BOTH, what, attempt: (_a, b) => ({ method, path, body: body(b) }) };
};
const ruleBody = { name: 'planted', metric: 'error_rate', windowSeconds: 300, threshold: 0.1 };

/** Notebooks take user tokens only: any API key gets 403 for any id, its own org's included. */
const userOnly = (c: IsolationCase): IsolationCase => ({
  ...c,
  expected: { "A's owner token": 404, "A's admin API key": 403 },
});

/** A deployment of B's model, named by id or by name in the body. */
const deployB = (what: string, ref: (b: Tenant) => string): IsolationCase => ({
  route: 'POST /v1/deployments',
  expected: NOT_FOUND_FOR_BOTH,
  what,
  attempt: (_a, b) => ({
    method: 'POST',
    path: '/v1/deployments',
    body: { name: 'planted', model: ref(b), version: 1, image: 'ghcr.io/acme/x:1', gpuType: 'cpu' },
  }),
});

const MATRIX: IsolationCase[] = [
  onB('GET /v1/api-keys/{id}', 'API key', keyId),
  onB('DELETE /v1/api-keys/{id}', 'API key', keyId),
  onB('PATCH /v1/org/members/{userId}', 'member', (b) => b.member.userId, { body: { role: 'viewer' } }),
  onB('PATCH /v1/org/members/{userId}', 'owner', (b) => b.owner.userId, { body: { role: 'admin' } }),
  onB('DELETE /v1/org/members/{userId}', 'member', (b) => b.member.userId),
  onB('DELETE /v1/org/members/{userId}', 'owner', (b) => b.owner.userId),
  onB('DELETE /v1/org/invitations/{invitationId}', 'invitation', (b) => b.invitation.id),
  // Only the invitee, holding its token, reads or answers an invitation: another account with B's token gets
  // what an unknown token gets; keys answer none.
  ...(['preview', 'accept', 'decline'] as const).map((verb) =>
    userOnly(
      referToB(`POST /v1/invitations/${verb}`, 'invitation token', (b) => ({ token: b.invitation.token })),
    ),
  ),
  {
    route: 'POST /v1/auth/switch-org',
    // An API key can never switch org (403 for any orgId, its own included), so it learns nothing of B's.
    expected: { "A's owner token": 404, "A's admin API key": 403 },
    what: 'org',
    attempt: (_a, b) => ({ method: 'POST', path: '/v1/auth/switch-org', body: { orgId: b.orgId } }),
  },
  {
    route: 'POST /v1/auth/login',
    expected: { "A's owner password": 404 },
    what: 'org',
    attempt: (a, b) => ({
      method: 'POST',
      path: '/v1/auth/login',
      body: { email: a.owner.email, password: PASSWORD, orgId: b.orgId },
    }),
  },
  onB('GET /v1/experiments/{id}', 'experiment', experimentId),
  onB('PATCH /v1/experiments/{id}', 'experiment', experimentId, { body: { name: 'hijacked' } }),
  onB('DELETE /v1/experiments/{id}', 'experiment', experimentId),
  onB('POST /v1/experiments/{id}/runs', 'experiment', experimentId, { body: { name: 'planted' } }),
  onB('GET /v1/experiments/{id}/runs', 'experiment', experimentId),
  onB('GET /v1/runs/{id}', 'run', runId),
  onB('PATCH /v1/runs/{id}', 'run', runId, { body: { status: 'killed' } }),
  onB('DELETE /v1/runs/{id}', 'run', runId),
  onB('POST /v1/runs/{id}/params', 'run', runId, { body: { params: [{ key: 'planted', value: '1' }] } }),
  onB('POST /v1/runs/{id}/metrics', 'run', runId, {
    body: { metrics: [{ key: 'loss', value: 9, step: 1 }] },
  }),
  onB('PUT /v1/runs/{id}/tags', 'run', runId, { body: { tags: { team: 'alpha' } } }),
  onB('POST /v1/runs/{id}/log-batch', 'run', runId, { body: { tags: [{ key: 'team', value: 'alpha' }] } }),
  onB('GET /v1/runs/{id}/metrics/{key}/history', 'metric', runId),
  onB('PUT /v1/runs/{id}/artifacts', 'artifact', runId, {
    query: artifact,
    body: 'overwritten',
    type: 'text/plain',
  }),
  onB('GET /v1/runs/{id}/artifacts', 'run', runId),
  onB('GET /v1/runs/{id}/artifacts/content', 'artifact', runId, { query: artifact }),
  onB('DELETE /v1/runs/{id}/artifacts', 'artifact', runId, { query: artifact }),
  onB('GET /v1/models/{id}', 'model', modelId),
  onB('PATCH /v1/models/{id}', 'model', modelId, { body: { description: 'hijacked' } }),
  onB('DELETE /v1/models/{id}', 'model', modelId),
  onB('PUT /v1/models/{id}/aliases/{alias}', 'alias', modelId, { body: { version: 1 } }),
  onB('DELETE /v1/models/{id}/aliases/{alias}', 'alias', modelId),
  onB('POST /v1/models/{id}/versions', 'model', modelId, {
    query: () => '?filename=net.pt',
    body: 'planted',
    type: 'application/octet-stream',
  }),
  onB('GET /v1/models/{id}/versions', 'model', modelId),
  onB('POST /v1/models/{id}/versions/uploads', 'model', modelId, {
    body: { filename: 'net.pt', sizeBytes: 5, partCount: 1 },
  }),
  onB('POST /v1/models/{id}/versions/{version}/complete', 'version', modelId, {
    body: { parts: [{ partNumber: 1, etag: '"x"' }] },
  }),
  onB('GET /v1/models/{id}/versions/{version}', 'version', modelId),
  onB('PATCH /v1/models/{id}/versions/{version}', 'version', modelId, { body: { description: 'hijacked' } }),
  onB('DELETE /v1/models/{id}/versions/{version}', 'version', modelId),
  onB('GET /v1/models/{id}/versions/{version}/download-url', 'version', modelId),
  onB('GET /v1/models/{id}/versions/{version}/parts', 'version', modelId, { query: () => '?partCount=1' }),
  deployB('model (by id)', modelId),
  deployB('model (by name)', (b) => b.model.name),
  onB('GET /v1/deployments/{id}', 'deployment', deploymentId),
  onB('PATCH /v1/deployments/{id}', 'deployment', deploymentId, { body: { maxReplicas: 3 } }),
  onB('DELETE /v1/deployments/{id}', 'deployment', deploymentId),
  onB('GET /v1/deployments/{id}/events', 'deployment', deploymentId),
  userOnly(onB('GET /v1/notebooks/{id}', 'notebook', notebookId)),
  userOnly(onB('POST /v1/notebooks/{id}/start', 'notebook', notebookId)),
  userOnly(onB('POST /v1/notebooks/{id}/stop', 'notebook', notebookId)),
  userOnly(onB('DELETE /v1/notebooks/{id}', 'notebook', notebookId)),
  userOnly(onB('GET /v1/notebooks/{id}/sessions', 'notebook', notebookId)),
  onB('GET /v1/deployments/{id}/metrics', 'deployment', deploymentId),
  onB('GET /v1/deployments/{id}/drift', 'deployment', deploymentId),
  onB('GET /v1/deployments/{id}/logs', 'deployment', deploymentId),
  userOnly(onB('GET /v1/notebooks/{id}/logs', 'notebook', notebookId)),
  onB('GET /v1/files/{id}', 'file', (b) => b.file.id),
  onB('GET /v1/files/{id}/content', 'file', (b) => b.file.id),
  onB('GET /v1/files/{id}/download-url', 'file', (b) => b.file.id),
  onB('DELETE /v1/files/{id}', 'file', (b) => b.file.id),
  onB('GET /v1/batch-jobs/{id}', 'batch job', (b) => b.batchJob.id),
  onB('POST /v1/batch-jobs/{id}/cancel', 'batch job', (b) => b.batchJob.id),
  onB('GET /v1/batch-jobs/{id}/download-urls', 'batch job', (b) => b.batchJob.id),
  referToB('POST /v1/batch-jobs', "deployment (with A's own file)", (b) => ({
    deployment: b.deployment.id,
    inputFileId: `file_${'0'.repeat(26)}`,
  })),
  referToB('POST /v1/batch-jobs', 'input file', (b) => ({
    deployment: b.deployment.name,
    inputFileId: b.file.id,
  })),
  onB('GET /v1/alert-rules/{id}', 'alert rule', ruleId),
  onB('PATCH /v1/alert-rules/{id}', 'alert rule', ruleId, { body: { threshold: 0.9 } }),
  onB('DELETE /v1/alert-rules/{id}', 'alert rule', ruleId),
  onB('GET /v1/alert-rules/{id}/events', 'alert rule', ruleId),
  onB('DELETE /v1/alert-silences/{id}', 'silence', silenceId),
  onB('DELETE /v1/notification-channels/{id}', 'notification channel', channelId),
  onB('GET /v1/notification-channels/{id}/deliveries', 'notification channel', channelId),
  onB('POST /v1/notification-channels/{id}/test', 'notification channel', channelId),
  referToB('POST /v1/alert-rules', 'notification channel', (b) => ({
    ...ruleBody,
    channelIds: [b.channel.id],
  })),
  referToB('POST /v1/alert-rules', 'deployment', (b) => ({
    ...ruleBody,
    deploymentId: b.deployment.id,
    channelIds: [],
  })),
  referToB('POST /v1/alert-silences', 'alert rule', (b) => ({
    ruleId: b.rule.id,
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
  })),
];

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}
type OpenApiDocument = { paths: Record<string, Record<string, OpenApiOperation>> };

/** Body fields that name another resource by id or by name, besides the `…Id` ones. */
// `token`: an invitation's, which is how its invitee names it.
const REFERENCE_FIELDS = ['model', 'token'];

/** Routes that name a resource: a `{param}` in the path, or an `…Id` or reference field in the JSON body. */
function routesNamingResources(doc: OpenApiDocument): string[] {
  const routes: string[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, operation] of Object.entries(operations)) {
      const body = operation.requestBody?.content?.['application/json']?.schema?.properties ?? {};
      const bodyNamesId = Object.keys(body).some((f) => /Ids?$/.test(f) || REFERENCE_FIELDS.includes(f));
      if (path.includes('{') || bodyNamesId) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return routes;
}

describe('tenant isolation between two organisations', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  const ghost = ghostTenant();

  beforeAll(async () => {
    t = await createTestApp();
    a = await createTenant(t, 'alpha');
    b = await createTenant(t, 'bravo');
  });
  afterAll(() => t.cleanup());

  const tokenFor = (credential: Credential): string | undefined =>
    credential === "A's owner token"
      ? a.owner.accessToken
      : credential === "A's admin API key"
        ? a.key.secret
        : undefined;

  const send = (credential: Credential, attempt: Attempt) => {
    const token = tokenFor(credential);
    return t.client.call(attempt.method, attempt.path, {
      ...(token ? { token } : {}),
      ...(attempt.body === undefined ? {} : { body: attempt.body }),
      ...(attempt.type ? { headers: { 'content-type': attempt.type } } : {}),
    });
  };

  it('covers every /v1 route that names a resource by path or body id', async () => {
    const doc: OpenApiDocument = (await t.client.call('GET', '/openapi.json')).json;
    const named = routesNamingResources(doc);
    const covered = MATRIX.map((c) => c.route);
    expect(named.length).toBeGreaterThan(0);
    // A route listed here has no isolation case yet: add one to MATRIX.
    expect(named.filter((route) => !covered.includes(route))).toEqual([]);
    expect(covered.filter((route) => !named.includes(route))).toEqual([]);
  });

  for (const { route, expected, what, attempt } of MATRIX) {
    for (const [credential, status] of Object.entries(expected) as [Credential, number][]) {
      it(`${route} with ${credential} on B's ${what} answers ${status}, like a missing one, and leaks nothing`, async () => {
        const res = await send(credential, attempt(a, b));
        expect(res.status).toBe(status);
        expect(res.json).toEqual({
          error: { code: expect.any(String), message: expect.any(String), requestId: expect.any(String) },
        });
        for (const secret of secretsOf(b)) expect(res.text).not.toContain(secret);

        // The same call on ids that exist nowhere answers identically, so B's ids are no oracle.
        const missing = await send(credential, attempt(a, ghost));
        expect(missing.status).toBe(res.status);
        expect(missing.json.error.code).toBe(res.json.error.code);
        expect(missing.json.error.message).toBe(res.json.error.message);
      });
    }
  }

  const both: Credential[] = ["A's owner token", "A's admin API key"];
  /** Each list, who may read it, and one of A's own ids it must show (so an empty answer cannot pass). */
  const LISTS: { path: string; credentials: Credential[]; shows: (a: Tenant) => string }[] = [
    { path: '/v1/api-keys', credentials: both, shows: (a) => a.key.id },
    { path: '/v1/org/members', credentials: both, shows: (a) => a.member.userId },
    { path: '/v1/org/invitations', credentials: both, shows: (a) => a.invitation.id },
    { path: '/v1/audit-log?limit=200', credentials: both, shows: (a) => a.member.userId },
    { path: '/v1/org', credentials: both, shows: (a) => a.orgId },
    { path: '/v1/auth/me', credentials: both, shows: (a) => a.orgId },
    { path: '/v1/orgs', credentials: ["A's owner token"], shows: (a) => a.orgId },
    { path: '/v1/experiments', credentials: both, shows: (a) => a.experiment.id },
    { path: '/v1/models', credentials: both, shows: (a) => a.model.id },
    { path: '/v1/deployments', credentials: both, shows: (a) => a.deployment.id },
    { path: '/v1/notebooks', credentials: ["A's owner token"], shows: (a) => a.notebook.id },
    { path: '/v1/billing/usage?groupBy=deployment', credentials: both, shows: (a) => a.deployment.id },
    { path: '/v1/billing/stats', credentials: both, shows: (a) => a.orgId },
    { path: '/v1/billing/invoices/upcoming', credentials: both, shows: (a) => a.orgId },
  ];

  for (const { path, credentials, shows } of LISTS) {
    for (const credential of credentials) {
      it(`GET ${path} with ${credential} shows A's own data and none of B's`, async () => {
        const res = await send(credential, { method: 'GET', path });
        expect(res.status).toBe(200);
        expect(res.text).toContain(shows(a));
        for (const secret of secretsOf(b)) expect(res.text).not.toContain(secret);
      });
    }
  }

  it("counts only A's own calls in A's usage, stats and invoice", async () => {
    for (const credential of both) {
      const token = tokenFor(credential);
      const usage = await t.client.call('GET', '/v1/billing/usage', { ...(token ? { token } : {}) });
      expect(usage.json.lines).toEqual([
        expect.objectContaining({ meter: 'inference_calls', rawQuantity: 7 }),
      ]);
      const stats = await t.client.call('GET', '/v1/billing/stats', { ...(token ? { token } : {}) });
      expect(stats.json.calls.used).toBe(7);
      const invoice = await t.client.call('GET', '/v1/billing/invoices/upcoming', {
        ...(token ? { token } : {}),
      });
      expect(invoice.json.subtotalUsd).toBe('0.007');
    }
  });

  it("leaves B's key, members, experiment, run, artifact, deployment and notebook as they were", async () => {
    const me = await t.client.call('GET', '/v1/auth/me', { token: b.key.secret });
    expect(me.status).toBe(200);
    expect(me.json.org.id).toBe(b.orgId);

    const key = await t.client.call('GET', `/v1/api-keys/${b.key.id}`, { token: b.owner.accessToken });
    expect(key.json).toMatchObject({ status: 'active', revokedAt: null, name: b.key.name });

    const members = await t.client.call('GET', '/v1/org/members', { token: b.owner.accessToken });
    const roles = Object.fromEntries(
      members.json.items.map((m: { userId: string; role: string }) => [m.userId, m.role]),
    );
    expect(roles).toEqual({ [b.owner.userId]: 'owner', [b.member.userId]: 'member' });

    const memberView = await t.client.call('GET', '/v1/org', { token: b.member.accessToken });
    expect(memberView.json).toMatchObject({ id: b.orgId, name: b.orgName });

    const run = await t.client.call('GET', `/v1/runs/${b.run.id}`, { token: b.owner.accessToken });
    expect(run.json).toMatchObject({
      experimentId: b.experiment.id,
      name: b.run.name,
      status: 'running',
      params: { lr: '0.1' },
      tags: { team: 'bravo' },
      metrics: [expect.objectContaining({ key: 'loss', value: 0.5, step: 0 })],
    });
    const runs = await t.client.call('GET', `/v1/experiments/${b.experiment.id}/runs`, {
      token: b.key.secret,
    });
    expect(runs.json.items.map((r: { id: string }) => r.id)).toEqual([b.run.id]);
    const content = await t.client.call(
      'GET',
      `/v1/runs/${b.run.id}/artifacts/content?path=${b.artifactPath}`,
      {
        token: b.owner.accessToken,
      },
    );
    expect(content.text).toBe('bravo notes');

    const deployment = await t.client.call('GET', `/v1/deployments/${b.deployment.id}`, {
      token: b.key.secret,
    });
    expect(deployment.json).toMatchObject({
      name: b.deployment.name,
      revision: 1,
      minReplicas: 1,
      maxReplicas: 1,
    });
    const notebook = await t.client.call('GET', `/v1/notebooks/${b.notebook.id}`, {
      token: b.owner.accessToken,
    });
    expect(notebook.json).toMatchObject({ desired: 'running', token: b.notebook.token });

    const log = await t.client.call('GET', '/v1/audit-log?limit=200', { token: b.owner.accessToken });
    const actors = new Set(log.json.items.map((e: { actor: { id: string } }) => e.actor.id));
    expect(actors).not.toContain(a.owner.userId);
    expect(actors).not.toContain(a.key.id);
  });
});
