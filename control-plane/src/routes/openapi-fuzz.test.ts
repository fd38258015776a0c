import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { generate } from 'json-schema-faker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../testing/agents.js';
import { TEST_STRIPE_KEY } from '../../testing/stripe.js';
import { type StripeTestServer, startStripeServer } from '../../testing/stripe-server/server.js';
import type { AppLike } from '../../testing/test-app.js';
import { createTestApp, readReply, type Session } from '../../testing/test-app.js';
import { SdkStripeGateway } from '../services/billing/stripe/sdk-gateway.js';

/**
 * Every operation of /openapi.json called with parameters and bodies generated from the document itself
 * (json-schema-faker, seeded so a failure replays), with and without its credential: no answer may be a
 * 5xx, every status must be one the operation documents, and every JSON body must match the schema the
 * document gives for that status (ajv). A bounded number of calls keeps the whole test under a minute.
 */

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  security?: Record<string, string[]>[];
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/** Calls per operation with its credential; one more goes without. */
const SAMPLES_WITH_AUTH = 3;
/** A long poll waits no longer than this in the test (the document allows up to 30 s). */
const MAX_WAIT_SECONDS = 1;

/** Replaces `#/components/schemas/…` references with the schemas themselves (the document has no cycles). */
function inline(schema: unknown, components: Record<string, Schema>, depth = 0): unknown {
  if (depth > 20) throw new Error('schema nesting too deep: a reference cycle?');
  if (Array.isArray(schema)) return schema.map((s) => inline(s, components, depth + 1));
  if (schema === null || typeof schema !== 'object') return schema;
  const ref = (schema as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const target = components[ref.replace('#/components/schemas/', '')];
    if (!target) throw new Error(`unresolved ${ref}`);
    return inline(target, components, depth + 1);
  }
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, inline(value, components, depth + 1)]),
  );
}

/** Ids the API has answered with, by prefix (`mdl`, `exp`, …), so some calls reach real resources. */
const known = new Map<string, string[]>();
const ID = /^([a-z]{2,4})_[0-9a-z]{26}$/;

function remember(value: unknown): void {
  if (typeof value === 'string') {
    const prefix = ID.exec(value)?.[1];
    if (prefix) known.set(prefix, [...new Set([...(known.get(prefix) ?? []), value])].slice(-20));
  } else if (Array.isArray(value)) {
    for (const v of value) remember(v);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) remember(v);
  }
}

/** A real id for a path parameter whose pattern names a prefix, on odd seeds; else undefined. */
function knownId(schema: Schema, seed: number): string | undefined {
  const prefix =
    typeof schema.pattern === 'string' ? /^\^([a-z]{2,4})_/.exec(schema.pattern)?.[1] : undefined;
  const ids = prefix ? known.get(prefix) : undefined;
  return seed % 2 === 1 && ids?.length ? ids[seed % ids.length] : undefined;
}

function queryValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

describe('the API as /openapi.json describes it', () => {
  let app: AppLike;
  let cleanup: () => void;
  let stripe: StripeTestServer;
  let doc: Document;
  let owner: Session;
  let credentials: Record<string, string>;
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
  const validators = new Map<string, ValidateFunction>();

  beforeAll(async () => {
    const t = await createTestApp();
    stripe = await startStripeServer({ apiKey: TEST_STRIPE_KEY });
    // Stripe configured, as in production, so the billing routes answer rather than 503.
    app = t.anotherInstance({
      stripe: {
        gateway: SdkStripeGateway.fromOptions({
          secretKey: TEST_STRIPE_KEY,
          apiUrl: stripe.url,
          timeoutMs: 2_000,
        }),
        webhookSecret: 'whsec_fuzz',
      },
    });
    cleanup = t.cleanup;
    owner = await t.client.register('owner');
    credentials = {
      bearer: owner.accessToken,
      edgeService: t.edgeServiceToken,
      operatorToken: t.operatorToken,
      agentCredential: (await registerTestAgent(t)).credential,
    };
    doc = (await readReply(await app.request('/openapi.json'))).json;
  });
  afterAll(async () => {
    await stripe?.close();
    cleanup?.();
  });

  const validatorFor = (key: string, schema: Schema) => {
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(inline(schema, doc.components.schemas) as Schema);
      validators.set(key, validate);
    }
    return validate;
  };

  /** `wrongType`: the body is sent as text/plain, which every JSON operation must refuse with its documented 415. */
  async function call(
    path: string,
    method: string,
    op: Operation,
    seed: number,
    withAuth: boolean,
    wrongType = false,
  ) {
    const generated = async (schema: Schema, n: number) =>
      generate(inline(schema, doc.components.schemas) as Schema, {
        seed: seed * 101 + n,
        maxItems: 3,
        maxLength: 40,
        optionalsProbability: 0.5,
      });
    let url = path;
    const query = new URLSearchParams();
    const headers: Record<string, string> = {};
    for (const [i, p] of (op.parameters ?? []).entries()) {
      if (p.in !== 'path' && !p.required && seed % 2 === 0) continue;
      let value = (p.in === 'path' ? knownId(p.schema, seed) : undefined) ?? (await generated(p.schema, i));
      if (p.name === 'wait') value = MAX_WAIT_SECONDS;
      if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(queryValue(value)));
      else if (p.in === 'query') query.set(p.name, queryValue(value));
      else headers[p.name] = queryValue(value);
    }
    if (query.size > 0) url += `?${query}`;
    let body: RequestInit['body'];
    const content = op.requestBody?.content ?? {};
    if (content['application/json']?.schema) {
      body = JSON.stringify(await generated(content['application/json'].schema, 99));
      headers['content-type'] = wrongType ? 'text/plain' : 'application/json';
    } else if (op.requestBody) {
      body = new Uint8Array(64).fill(seed);
      headers['content-type'] = Object.keys(content)[0]?.replace('*/*', 'application/octet-stream') ?? '';
    }
    const scheme = Object.keys(op.security?.[0] ?? {})[0];
    if (withAuth && scheme) headers.authorization = `Bearer ${credentials[scheme]}`;
    const reply = await readReply(await app.request(url, { method: method.toUpperCase(), headers, body }));
    if (reply.status < 300) remember(reply.json);
    return { url, body, reply };
  }

  it('answers every operation, with and without credentials, with a documented status and body and never a 5xx', async () => {
    const failures: string[] = [];
    let calls = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const runs: (readonly [seed: number, withAuth: boolean, wrongType: boolean])[] = [
          ...Array.from({ length: SAMPLES_WITH_AUTH }, (_, i) => [i + 1, true, false] as const),
          [0, false, false] as const,
        ];
        if (op.requestBody?.content['application/json'])
          runs.push([SAMPLES_WITH_AUTH + 1, true, true] as const);
        for (const [seed, withAuth, wrongType] of runs) {
          const { url, body, reply } = await call(path, method, op, seed, withAuth, wrongType);
          calls += 1;
          const how = `${withAuth ? 'auth' : 'no auth'}${wrongType ? ', text/plain body' : ''}, seed ${seed}`;
          const label = `${method.toUpperCase()} ${url} (${how}) → ${reply.status}`;
          const documented = op.responses[String(reply.status)] ?? op.responses.default;
          if (reply.status >= 500) failures.push(`${label}: a 5xx: ${reply.text.slice(0, 200)}`);
          if (!documented) {
            failures.push(
              `${label}: status not documented (${Object.keys(op.responses)}): ${reply.text.slice(0, 200)} body ${String(body).slice(0, 120)}`,
            );
            continue;
          }
          const schema = documented.content?.['application/json']?.schema;
          if (!schema || reply.json === undefined) continue;
          const validate = validatorFor(`${method} ${path} ${reply.status}`, schema);
          if (!validate(reply.json)) {
            failures.push(
              `${label}: body does not match the document: ${ajv.errorsText(validate.errors)}: ${reply.text.slice(0, 200)}`,
            );
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(300);
    expect(failures).toEqual([]);
  }, 60_000);
});
