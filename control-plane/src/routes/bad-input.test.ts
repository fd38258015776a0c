import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../testing/agents.js';
import { newModel, uploadVersion } from '../../testing/models.js';
import { createTestApp, readReply, type Session } from '../../testing/test-app.js';
import { REAL_MODELS } from '../onnx/test-models.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
type Reply = Awaited<ReturnType<TestApp['client']['call']>>;

/** The parts of JSON Schema this API's request bodies use. */
interface JsonSchema {
  /** A list for nullable values: `["object", "null"]`. */
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  /** `#/components/schemas/Name`: a named schema of the document. */
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
}
interface Operation {
  parameters?: { name: string; in: string; schema: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: Record<string, string[]>[];
}
type OpenApiDocument = {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

/** The document's named schemas, for the `$ref`s in request bodies (set once the document is read). */
let namedSchemas: Record<string, JsonSchema> = {};

interface JsonRoute {
  /** `METHOD path` as the document spells it. */
  name: string;
  method: string;
  /** The path with each `{param}` filled with a well-formed value. */
  path: string;
  schema: JsonSchema;
  auth: Auth;
}

/** The security schemes of the document; each route is called with a credential of its own scheme. */
const SCHEMES = ['bearer', 'edgeService', 'operatorToken', 'agentCredential'] as const;
type Auth = (typeof SCHEMES)[number] | 'none';

const toRegExp = (source: string) => {
  try {
    return new RegExp(source, 'u');
  } catch {
    return new RegExp(source);
  }
};

/** A character the one-character pattern `atom` (a literal, `.`, `\\d`, a `[class]` or `[^class]`) accepts. */
function charFor(atom: string): string {
  const fits = toRegExp(`^${atom}$`);
  const found = [atom.slice(-1), ...'aA0x_-.'].find((c) => fits.test(c));
  if (found === undefined) throw new Error(`no sample character for ${atom}; teach charFor`);
  return found;
}

/**
 * The shortest string an anchored pattern of single-character atoms with `{n}`, `{n,m}`, `+`, `*`, `?`
 * accepts; an optional group `(…)?` or `(…)*` (without nested groups) is left out.
 */
function sampleOfPattern(pattern: string): string {
  const end = pattern.endsWith('$') ? pattern.length - 1 : pattern.length;
  let out = '';
  let i = pattern.startsWith('^') ? 1 : 0;
  while (i < end) {
    const next = pattern.charAt(i);
    const close = next === '(' ? pattern.indexOf(')', i) : -1;
    const afterGroup = pattern.charAt(close + 1);
    if (close > 0 && (afterGroup === '?' || afterGroup === '*')) {
      i = close + 2;
      continue;
    }
    const length = next === '[' ? pattern.indexOf(']', i + 2) + 1 - i : next === '\\' ? 2 : 1;
    if ('()|'.includes(next) || length < 1)
      throw new Error(`sampleOfPattern cannot read ${pattern}; teach it`);
    const atom = pattern.slice(i, i + length);
    i += length;
    const quantifier = /^(?:\{(\d+)(?:,\d*)?\}|([+*?]))/.exec(pattern.slice(i, end));
    const count = quantifier ? Number(quantifier[1] ?? (quantifier[2] === '+' ? 1 : 0)) : 1;
    i += quantifier?.[0].length ?? 0;
    out += charFor(atom).repeat(count);
  }
  if (!toRegExp(pattern).test(out)) throw new Error(`sampleOfPattern built ${out} for ${pattern}`);
  return out;
}

/** A value the schema accepts, every field filled; loud about schema it does not know. */
function sampleOf(schema: JsonSchema): unknown {
  if (schema.$ref) {
    const named = namedSchemas[schema.$ref.replace('#/components/schemas/', '')];
    if (!named) throw new Error(`sampleOf cannot find ${schema.$ref}`);
    return sampleOf(named);
  }
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf?.[0]) return sampleOf(schema.anyOf[0]);
  // A nullable value is sampled as its non-null type, which also exercises its fields.
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      // Optional fields too: a body may need "at least one of" them, which the document cannot say.
      return Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([field, property]) => [field, sampleOf(property)]),
      );
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sampleOf(schema.items ?? {}));
    case 'integer':
      return schema.minimum ?? 1;
    case 'number': {
      // Open bounds (0 < share < 1): the middle of them.
      const low = schema.minimum ?? schema.exclusiveMinimum;
      const high = schema.maximum ?? schema.exclusiveMaximum;
      if (schema.exclusiveMinimum !== undefined || schema.exclusiveMaximum !== undefined)
        return ((low ?? 0) + (high ?? (low ?? 0) + 2)) / 2;
      return schema.minimum ?? 1;
    }
    case 'boolean':
      return true;
    case 'string':
      if (schema.format === 'email') return 'ada@example.com';
      if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      if (schema.format === 'uri') return 'http://127.0.0.1:9090';
      if (schema.pattern) return sampleOfPattern(schema.pattern);
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
  }
  throw new Error(`sampleOf cannot build ${JSON.stringify(schema)}; teach it`);
}

/** The credential scheme an operation asks for: each route is called with a credential it accepts. */
function authOf(op: Operation): Auth {
  const security = op.security?.[0] ?? {};
  return SCHEMES.find((scheme) => scheme in security) ?? 'none';
}

/** Every operation whose request body is JSON, with its path params filled in. */
function jsonRoutesOf(doc: OpenApiDocument): JsonRoute[] {
  return Object.entries(doc.paths).flatMap(([template, operations]) =>
    Object.entries(operations).flatMap(([method, op]) => {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (!schema) return [];
      let path = template;
      for (const param of op.parameters ?? []) {
        if (param.in === 'path') path = path.replace(`{${param.name}}`, String(sampleOf(param.schema)));
      }
      const auth = authOf(op);
      return [
        { name: `${method.toUpperCase()} ${template}`, method: method.toUpperCase(), path, schema, auth },
      ];
    }),
  );
}

/** A value of another JSON type than the schema asks for. */
const wrongTypeFor = (schema: JsonSchema): unknown => (schema.type === 'boolean' ? 'yes' : true);

const HUGE_BODY = JSON.stringify({ name: 'x'.repeat(10 * 1024 * 1024) });

describe('bad input never produces a 500', () => {
  let t: TestApp;
  let owner: Session;
  let credentials: Record<Auth, string | undefined>;
  let doc: OpenApiDocument;
  let routes: JsonRoute[];

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    credentials = {
      bearer: owner.accessToken,
      edgeService: t.edgeServiceToken,
      operatorToken: t.operatorToken,
      agentCredential: (await registerTestAgent(t)).credential,
      none: undefined,
    };
    doc = (await t.client.call('GET', '/openapi.json')).json;
    namedSchemas = doc.components?.schemas ?? {};
    routes = jsonRoutesOf(doc);
  });
  afterAll(() => t.cleanup());

  const send = (
    route: { method: string; path: string; auth: JsonRoute['auth'] },
    body: string | undefined,
    type = 'application/json',
  ) =>
    t.client.call(route.method, route.path, {
      ...(body === undefined ? {} : { body }),
      headers: {
        ...(body === undefined ? {} : { 'content-type': type }),
        ...(credentials[route.auth] ? { authorization: `Bearer ${credentials[route.auth]}` } : {}),
      },
    });

  /** The one error envelope, whose requestId is the response's x-request-id. */
  const expectError = (res: Reply, label: string, status: number, code: string) => {
    expect(res.status, `${label}: ${res.text.slice(0, 300)}`).toBe(status);
    const requestId = res.headers.get('x-request-id');
    expect(requestId, label).toBeTruthy();
    expect(res.json?.error, label).toEqual(
      expect.objectContaining({ code, message: expect.any(String), requestId }),
    );
  };

  it('derives the JSON-body routes from /openapi.json', () => {
    const names = routes.map((r) => r.name);
    expect(names.length).toBeGreaterThan(0);
    expect(names).toContain('POST /v1/auth/register');
    expect(names).toContain('POST /v1/api-keys');
    expect(names).toContain('POST /agent/v1/register');
    expect(names).toContain('POST /agent/v1/usage');
    expect(names).toContain('POST /internal/v1/agents/bootstrap-tokens');
    expect(names).toContain('PUT /internal/v1/orgs/{orgId}/standing');
    expect(names).toContain('POST /internal/v1/usage');
  });

  it('answers 400 invalid_json to malformed JSON', async () => {
    for (const route of routes) {
      for (const body of ['{"name":', '{', "{'name': 'single quotes'}", '{"a":1}}', '']) {
        expectError(await send(route, body), `${route.name} ${JSON.stringify(body)}`, 400, 'invalid_json');
      }
    }
  });

  it('answers 400 validation_failed with details to arrays, scalars and wrongly typed fields', async () => {
    for (const route of routes) {
      const wrongTypes = Object.fromEntries(
        Object.entries(route.schema.properties ?? {}).map(([field, schema]) => [field, wrongTypeFor(schema)]),
      );
      const bodies: unknown[] = [[], [sampleOf(route.schema)], null, 'text', 42, wrongTypes];
      if (route.schema.required?.length) bodies.push({});
      for (const body of bodies) {
        const label = `${route.name} ${JSON.stringify(body)}`;
        const res = await send(route, JSON.stringify(body));
        expectError(res, label, 400, 'validation_failed');
        expect(res.json.error.details, label).toEqual(
          expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]),
        );
      }
    }
  });

  it('answers 400 validation_failed naming an unknown extra field, on an otherwise valid body', async () => {
    for (const route of routes) {
      const body = { ...(sampleOf(route.schema) as object), unexpectedField: 1 };
      const res = await send(route, JSON.stringify(body));
      expectError(res, route.name, 400, 'validation_failed');
      // One issue only: the sample is valid, so the extra field alone is refused.
      expect(res.json.error.details, route.name).toEqual([
        { path: expect.any(String), message: expect.stringContaining('unexpectedField') },
      ]);
    }
  });

  it('answers 413 payload_too_large to a 10 MB body (the limit is 1 MB)', async () => {
    for (const route of routes) {
      expectError(await send(route, HUGE_BODY), route.name, 413, 'payload_too_large');
    }
  });

  it('answers 415 unsupported_media_type to a body that is not declared as JSON', async () => {
    for (const route of routes) {
      const body = JSON.stringify(sampleOf(route.schema));
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        expectError(await send(route, body, type), `${route.name} ${type}`, 415, 'unsupported_media_type');
      }
    }
  });

  it('answers 400 to integer query parameters not written in decimal digits (limit=0x10)', async () => {
    const withIntegers = Object.entries(doc.paths).flatMap(([template, operations]) =>
      Object.entries(operations).flatMap(([method, op]) =>
        (op.parameters ?? [])
          .filter((p) => p.in === 'query' && p.schema.type === 'integer')
          .map((p) => ({ template, method: method.toUpperCase(), op, name: p.name })),
      ),
    );
    expect(withIntegers.map((r) => `${r.method} ${r.template} ${r.name}`)).toContain(
      'GET /v1/api-keys limit',
    );
    for (const { template, method, op, name } of withIntegers) {
      if (template.includes('{')) continue;
      for (const value of ['0x10', '1e1', '%2016', '16.0', '%2B16', '0b10', '']) {
        const route = { method, path: `${template}?${name}=${value}`, auth: authOf(op) };
        expectError(await send(route, undefined), `${method} ${route.path}`, 400, 'validation_failed');
      }
      const decimal = await send({ method, path: `${template}?${name}=16`, auth: authOf(op) }, undefined);
      expect(decimal.status, `${method} ${template}?${name}=16: ${decimal.text.slice(0, 200)}`).toBeLessThan(
        400,
      );
    }
  });

  it('answers 400 or 404 to path params that are not ids', async () => {
    const weird = [
      '../../etc',
      '..%2F..%2Fetc',
      'key_%27%20OR%201=1',
      "usr_'%20OR%20'1'='1",
      '%27%3B%20DROP%20TABLE%20users%3B--',
      '%00',
      '%ZZ',
      '%F0%9F%92%A9',
      'x'.repeat(4096),
    ];
    const withParams = Object.entries(doc.paths).flatMap(([template, operations]) =>
      Object.entries(operations)
        .filter(([, op]) => op.parameters?.some((p) => p.in === 'path'))
        .map(([method, op]) => ({ template, method: method.toUpperCase(), op })),
    );
    expect(withParams.map((r) => `${r.method} ${r.template}`)).toContain('GET /v1/api-keys/{id}');
    for (const { template, method, op } of withParams) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      for (const value of weird) {
        const path = template.replace(/\{[^}]+\}/g, value);
        const route = { method, path, auth: authOf(op) };
        const res = await send(route, schema ? JSON.stringify(sampleOf(schema)) : undefined);
        const label = `${method} ${path.slice(0, 80)}`;
        expect([400, 404], `${label}: ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
        expectError(res, label, res.status, res.status === 400 ? 'validation_failed' : 'not_found');
      }
    }
  });
});

describe('bad billing periods', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('answers 400 validation_failed, never a 500, to periods that are not dates or not a range', async () => {
    const values = [
      '%27%3B%20DROP%20TABLE%20ledger_entries%3B--',
      'x'.repeat(4096),
      '9999-99-99',
      '2026-02-30',
      '%2B275760-09-13T00%3A00%3A00Z',
      '2026-01-01T00%3A00%3A00%2B99%3A99',
      '%F0%9F%92%A9',
      '',
    ];
    const queries = [
      ...values.flatMap((v) => [`from=${v}&to=2026-03-01`, `from=2026-02-01&to=${v}`]),
      'from=2026-03-01&to=2026-02-01',
      'from=2024-01-01&to=2026-01-01',
      // A start alone runs to now (60543e9), but not from further back than a period may reach.
      'from=2024-01-01',
      'groupBy=%27%20OR%201%3D1',
    ];
    for (const query of queries) {
      const res = await t.client.call('GET', `/v1/billing/usage?${query}`, { token: owner.accessToken });
      expect(res.status, `${query.slice(0, 60)}: ${res.text.slice(0, 200)}`).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
    }
  });
});

describe('bad time bounds say what is wrong', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('times');
  });
  afterAll(() => t.cleanup());
  const detailsOf = async (path: string) => {
    const res = await t.client.call('GET', path, { token: owner.accessToken });
    expect(res.status, res.text).toBe(400);
    return res.json.error.details;
  };

  it('names the billing period field and the formats it takes', async () => {
    const format =
      'a date (2026-11-01, read as its UTC midnight) or an ISO 8601 date-time with an offset (2026-11-01T00:00:00Z)';
    expect(await detailsOf('/v1/billing/usage?from=2026-13-45&to=2026-03-01')).toEqual([
      { path: 'from', message: `is not a real date or time: must be ${format}` },
    ]);
    expect(await detailsOf('/v1/billing/usage?from=2026-02-01&to=yesterday')).toEqual([
      { path: 'to', message: `must be ${format}` },
    ]);
  });

  it('tells a logs since before 1970 from one that is not a time at all', async () => {
    const logs = `/v1/deployments/dep_${'0'.repeat(26)}/logs`;
    expect(await detailsOf(`${logs}?since=0001-01-01T00:00:00Z`)).toEqual([
      { path: 'since', message: 'since is out of range: the earliest is 1970-01-01T00:00:00Z' },
    ]);
    expect(await detailsOf(`${logs}?since=2026-13-45T00:00:00Z`)).toEqual([
      { path: 'since', message: 'since is written as an RFC 3339 time but is not a real one' },
    ]);
  });

  it('takes a logs tail in decimal digits only, as every other integer in a query', async () => {
    for (const logs of [
      `/v1/deployments/dep_${'0'.repeat(26)}/logs`,
      `/v1/notebooks/nb_${'0'.repeat(26)}/logs`,
    ])
      for (const tail of ['0x10', '1e3', '0b11', ''])
        expect(await detailsOf(`${logs}?tail=${tail}`), `${logs}?tail=${tail}`).toEqual([
          { path: 'tail', message: 'must be an integer in decimal digits' },
        ]);
  });
});

describe('integers out of range say the range', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('ranges');
  });
  afterAll(() => t.cleanup());

  it('names the range of a limit, a tail or a version, not the digits they are written in', async () => {
    const detailsOf = async (path: string) => {
      const res = await t.client.call('GET', path, { token: owner.accessToken });
      expect(res.status, res.text).toBe(400);
      return res.json.error.details;
    };
    for (const limit of ['0', '-1', '201', '5000'])
      expect(await detailsOf(`/v1/models?limit=${limit}`), limit).toEqual([
        { path: 'limit', message: 'must be a whole number from 1 to 200' },
      ]);
    expect(await detailsOf(`/v1/deployments/dep_${'0'.repeat(26)}/logs?tail=10001`)).toEqual([
      { path: 'tail', message: 'must be a whole number from 0 to 10,000' },
    ]);
    expect(await detailsOf(`/v1/models/mdl_${'0'.repeat(26)}/versions/3000000000/parts?partCount=1`)).toEqual(
      [{ path: 'version', message: 'must be a whole number from 1 to 2,147,483,647' }],
    );
  });
});

describe('names with SQL or unusual unicode', () => {
  const NAMES = [
    "'); DROP TABLE users;--",
    '" OR 1=1 --',
    "Robert'); DELETE FROM api_keys WHERE ('1'='1",
    'Zoë 名前 🚀 \u202eevil \u0301',
  ];
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('stores a registered user name literally', async () => {
    for (const [i, name] of NAMES.entries()) {
      const reg = await t.client.call('POST', '/v1/auth/register', {
        body: { email: `sql-${i}@example.com`, password: 'correct horse battery', name },
      });
      expect(reg.status, reg.text).toBe(201);
      expect(reg.json.user.name).toBe(name);
      const me = await t.client.call('GET', '/v1/auth/me', { token: reg.json.accessToken });
      expect(me.json.user.name).toBe(name);
    }
  });

  it('stores an organisation name literally', async () => {
    const user = await t.client.register('org-maker');
    for (const name of NAMES) {
      const created = await t.client.call('POST', '/v1/orgs', { token: user.accessToken, body: { name } });
      expect(created.status, created.text).toBe(201);
      expect(created.json.name).toBe(name);
      const listed = await t.client.call('GET', '/v1/orgs', { token: user.accessToken });
      expect(listed.json.items).toContainEqual(expect.objectContaining({ id: created.json.id, name }));
    }
  });

  it('stores an API key name literally', async () => {
    const user = await t.client.register('key-maker');
    for (const name of NAMES) {
      const key = await t.client.createKey(user, { name, scopes: ['predict'] });
      const shown = await t.client.call('GET', `/v1/api-keys/${key.id}`, { token: user.accessToken });
      expect(shown.json.name).toBe(name);
    }
  });

  it('refuses control characters in a name rather than storing it cut short at a NUL', async () => {
    const user = await t.client.register('controls');
    for (const name of ['a\u0000b', 'tab\there', 'bell\u0007']) {
      const res = await t.client.call('POST', '/v1/orgs', { token: user.accessToken, body: { name } });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(res.json.error.details).toEqual([
        { path: 'name', message: 'must not contain control characters' },
      ]);
    }
    const listed = await t.client.call('GET', '/v1/orgs', { token: user.accessToken });
    expect(listed.json.items).toHaveLength(1);
  });

  it('leaves every table working afterwards', async () => {
    const after = await t.client.register('after');
    const login = await t.client.call('POST', '/v1/auth/login', {
      body: { email: after.email, password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
    const member = await t.client.joinOrg(after, await t.client.register('colleague'), 'member');
    const members = await t.client.call('GET', '/v1/org/members', { token: after.accessToken });
    expect(members.json.items.map((m: { userId: string }) => m.userId)).toEqual([
      after.userId,
      member.userId,
    ]);
    await t.client.createKey(after, { scopes: ['predict'] });
    for (const path of ['/v1/api-keys', '/v1/audit-log', '/v1/orgs', '/v1/auth/me']) {
      expect((await t.client.call('GET', path, { token: after.accessToken })).status, path).toBe(200);
    }
    const reused = await t.client.call('POST', '/v1/auth/register', {
      body: { email: 'sql-0@example.com', password: 'correct horse battery', name: 'again' },
    });
    expect(reused.status).toBe(409);
  });
});

describe('free text with NUL, or a body that is not UTF-8', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('nul');
  });
  afterAll(() => t.cleanup());

  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });
  const expectNulRefused = (res: Reply, path: string) => {
    expect(res.status, res.text).toBe(400);
    expect(res.json.error.details).toEqual([{ path, message: 'must not contain NUL characters' }]);
  };

  it('refuses NUL in descriptions and keeps them as they were; newlines and tabs stay allowed', async () => {
    const model = await newModel(t.app, owner.accessToken);
    expectNulRefused(
      await call('PATCH', `/v1/models/${model}`, { description: 'before\u0000after' }),
      'description',
    );
    expectNulRefused(await call('PATCH', `/v1/models/${model}`, { tags: { t: 'x\u0000y' } }), 'tags.t');
    const multiline = 'line one\n\tline two';
    expect((await call('PATCH', `/v1/models/${model}`, { description: multiline })).status).toBe(200);
    expect((await call('GET', `/v1/models/${model}`)).json.description).toBe(multiline);

    const up = await uploadVersion(t.app, owner.accessToken, model, 'net.pt', 'weights', {
      description: 'a\u0000b',
    });
    expectNulRefused(up, 'description');
    expect((await uploadVersion(t.app, owner.accessToken, model, 'net.pt', 'weights')).status).toBe(201);
    const version = `/v1/models/${model}/versions/1`;
    expectNulRefused(await call('PATCH', version, { description: 'before\u0000after' }), 'description');
    expect((await call('GET', version)).json.description).toBe('');

    const created = await call('POST', '/v1/experiments', { name: 'e', description: 'x\u0000y' });
    expectNulRefused(created, 'description');
    const exp = (await call('POST', '/v1/experiments', { name: 'e', description: multiline })).json.id;
    expectNulRefused(
      await call('PATCH', `/v1/experiments/${exp}`, { description: 'x\u0000y' }),
      'description',
    );
    expect((await call('GET', `/v1/experiments/${exp}`)).json.description).toBe(multiline);
  });

  it('refuses NUL in run tag and param values rather than cutting them or answering 409', async () => {
    const exp = (await call('POST', '/v1/experiments', { name: 'runs' })).json.id;
    const run = (await call('POST', `/v1/experiments/${exp}/runs`, {})).json.id;
    expectNulRefused(await call('PUT', `/v1/runs/${run}/tags`, { tags: { t: 'x\u0000y' } }), 'tags.t');
    const params = await call('POST', `/v1/runs/${run}/params`, {
      params: [{ key: 'q', value: 'x\u0000y' }],
    });
    expectNulRefused(params, 'params.0.value');
    const batch = await call('POST', `/v1/runs/${run}/log-batch`, {
      tags: [{ key: 't', value: 'x\u0000y' }],
    });
    expectNulRefused(batch, 'tags.0.value');
    const shown = (await call('GET', `/v1/runs/${run}`)).json;
    expect(shown.tags).toEqual({});
    expect(shown.params).toEqual({});
  });

  it('refuses NUL in an alert silence comment', async () => {
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    expectNulRefused(
      await call('POST', '/v1/alert-silences', { endsAt, comment: 'before\u0000after' }),
      'comment',
    );
    expect((await call('GET', '/v1/alert-silences')).json.items).toEqual([]);
  });

  it('answers 400 invalid_json to a body whose bytes are not UTF-8, storing nothing', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"name":"a'), 0xc3, 0x28, 0xff, 0x22, 0x7d]);
    const res = await readReply(
      await t.app.request('/v1/orgs', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
        body: bytes,
      }),
    );
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toMatchObject({
      code: 'invalid_json',
      message: 'The request body is not valid UTF-8',
    });
    expect((await call('GET', '/v1/orgs')).json.items).toHaveLength(1);
  });

  it('refuses a lone surrogate, naming the field, and keeps a pair (an emoji written as escapes)', async () => {
    const lone = await call('POST', '/v1/orgs', '{"name":"a\\ud800b"}');
    expect(lone.status, lone.text).toBe(400);
    expect(lone.json.error.details).toEqual([
      { path: 'name', message: 'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff)' },
    ]);
    const model = await newModel(t.app, owner.accessToken);
    const tagKey = await call('PATCH', `/v1/models/${model}`, '{"tags":{"t":"x\\udc00"}}');
    expect(tagKey.json.error.details).toEqual([expect.objectContaining({ path: 'tags.t' })]);
    const pair = await call('POST', '/v1/orgs', '{"name":"rocket \\ud83d\\ude80"}');
    expect(pair.status, pair.text).toBe(201);
    expect(pair.json.name).toBe('rocket 🚀');
    expect((await call('GET', '/v1/orgs')).json.items).toContainEqual(
      expect.objectContaining({ name: 'rocket 🚀' }),
    );
  });
});

describe('pagination cursors no page handed out', () => {
  let t: TestApp;
  let owner: Session;
  /** A real resource behind each `{id}` a paged list's path names, by the collection before it. */
  let ids: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('pager');
    const call = (method: string, path: string, body?: unknown) =>
      t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });
    const model = await newModel(t.app, owner.accessToken);
    await uploadVersion(t.app, owner.accessToken, model, 'cls.onnx', readFileSync(REAL_MODELS.paddleCls));
    const experiment = (await call('POST', '/v1/experiments', { name: 'paged' })).json.id;
    const deployment = await call('POST', '/v1/deployments', {
      name: 'paged',
      model,
      version: 1,
      gpuType: 't4',
    });
    const notebook = await call('POST', '/v1/notebooks', { name: 'paged', gpuType: 't4' });
    expect(deployment.status, deployment.text).toBe(201);
    expect(notebook.status, notebook.text).toBe(201);
    ids = {
      models: model,
      experiments: experiment,
      runs: (await call('POST', `/v1/experiments/${experiment}/runs`, {})).json.id,
      deployments: deployment.json.id,
      notebooks: notebook.json.id,
    };
  });
  afterAll(() => t.cleanup());

  it('answers 400 to a cursor that is not a key the list hands out, on every paged list', async () => {
    const doc: OpenApiDocument = (await t.client.call('GET', '/openapi.json')).json;
    const paged = Object.entries(doc.paths).flatMap(([template, operations]) =>
      Object.entries(operations)
        .filter(([method, op]) => method === 'get' && op.parameters?.some((p) => p.name === 'cursor'))
        .map(([, op]) => ({ template, op })),
    );
    expect(paged.map((p) => p.template)).toEqual(
      expect.arrayContaining([
        '/v1/api-keys',
        '/v1/audit-log',
        '/v1/batch-jobs',
        '/v1/deployments',
        '/v1/deployments/{id}/events',
        '/v1/experiments',
        '/v1/experiments/{id}/runs',
        '/v1/files',
        '/v1/models',
        '/v1/notebooks',
        '/v1/notebooks/{id}/sessions',
        '/v1/runs/{id}/artifacts',
        '/v1/runs/{id}/metrics/{key}/history',
      ]),
    );
    for (const { template, op } of paged) {
      const path = template
        .replace(/\/([a-z-]+)\/\{id\}/, (_, collection: string) => {
          const id = ids[collection];
          if (!id) throw new Error(`no ${collection} id to fill ${template} with; add one`);
          return `/${collection}/${id}`;
        })
        .replace('{key}', 'loss');
      const cursorType = op.parameters?.find((p) => p.name === 'cursor')?.schema.type;
      // Artifacts resume after a path, so only what is not a path is foreign to them.
      const foreign = template.endsWith('/artifacts')
        ? ['%00', 'a%00b', '%2Fabsolute', 'two%20words']
        : ['garbage', '%00', `usr_${'0'.repeat(26)}`, `x${ids.models}`];
      for (const cursor of foreign) {
        const res = await t.client.call('GET', `${path}?cursor=${cursor}`, { token: owner.accessToken });
        const label = `${path}?cursor=${cursor}: ${res.text.slice(0, 200)}`;
        expect(res.status, label).toBe(400);
        // An integer cursor (model versions) is refused by its documented type instead.
        if (cursorType !== 'integer') {
          expect(res.json.error, label).toMatchObject({
            code: 'validation_failed',
            message: 'The cursor is not one this endpoint handed out',
            details: [{ path: 'cursor', message: 'invalid cursor' }],
          });
        }
      }
      const first = await t.client.call('GET', path, { token: owner.accessToken });
      expect(first.status, `${path}: ${first.text.slice(0, 200)}`).toBe(200);
    }
  });

  it('still pages on with the cursor a page handed out', async () => {
    for (let i = 0; i < 3; i += 1) await newModel(t.app, owner.accessToken);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : '';
      const page = await t.client.call('GET', `/v1/models?limit=2${query}`, { token: owner.accessToken });
      expect(page.status, page.text).toBe(200);
      seen.push(...page.json.items.map((m: { id: string }) => m.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });
});

describe('ids that are not ids', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('ids');
  });
  afterAll(() => t.cleanup());

  it('says what an id looks like and what is wrong with the one given', async () => {
    const format = (prefix: string) =>
      `must be an id: ${prefix}_ followed by 26 lower-case letters and digits`;
    const cases = [
      ['/v1/batch-jobs/batch_nope', `${format('batch')}; it has 4 characters after batch_, not 26`],
      [`/v1/models/exp_${'0'.repeat(26)}`, `${format('mdl')}; it does not start with mdl_`],
      [
        `/v1/experiments/exp_${'A'.repeat(26)}`,
        `${format('exp')}; it has characters other than a-z and 0-9 after exp_`,
      ],
    ] as const;
    for (const [path, message] of cases) {
      const res = await t.client.call('GET', path, { token: owner.accessToken });
      expect(res.status, res.text).toBe(400);
      expect(res.json.error.details).toEqual([{ path: 'id', message }]);
    }
    const body = await t.client.call('POST', '/v1/batch-jobs', {
      token: owner.accessToken,
      body: { deployment: 'x', inputFileId: 'file_1' },
    });
    expect(body.json.error.details).toEqual([
      { path: 'inputFileId', message: `${format('file')}; it has 1 character after file_, not 26` },
    ]);
  });
});
