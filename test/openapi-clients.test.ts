import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPlaneDocument, generateSdkTypes, SDK_TYPES_PATH } from './helpers/sdk-types.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

type Operation = { operationId?: string; security?: unknown[] };
type Document = { paths: Record<string, Record<string, Operation>> };

/** The control plane's OpenAPI document as clients in any language consume it. */
describe('the OpenAPI document clients are generated from', () => {
  let dir = '';
  let document: Document;
  let file = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'openapi-'));
    document = (await controlPlaneDocument()) as Document;
    file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
  }, 60_000);

  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names every operation with a unique operationId and states its security', () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, ...op })),
    );
    expect(operations.length).toBeGreaterThan(90);
    expect(operations.filter((op) => !op.operationId).map((op) => op.at)).toEqual([]);
    const ids = operations.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.filter((op) => !Array.isArray(op.security)).map((op) => op.at)).toEqual([]);
  });

  it('passes redocly lint with its recommended rules', async () => {
    const lint = await promisify(execFile)(
      join(REPO_ROOT, 'node_modules/.bin/redocly'),
      ['lint', file, '--extends', 'recommended', '--format', 'json'],
      { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
    ).catch((err: { stdout?: string; stderr?: string; code?: number }) => ({
      stdout: err.stdout ?? '',
      stderr: `${err.stderr ?? ''} (exit ${err.code})`,
    }));
    const report = JSON.parse(lint.stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; severity: string; message: string }[];
    };
    const errors = report.problems.filter((p) => p.severity === 'error');
    expect(errors, lint.stderr).toEqual([]);
    // The only warning left is the missing licence, a business decision rather than a client's need.
    expect(report.problems.map((p) => p.ruleId).filter((rule) => rule !== 'info-license')).toEqual([]);
  }, 60_000);

  it("keeps the SDK's generated types equal to what the current routes generate", async () => {
    const committed = await readFile(SDK_TYPES_PATH, 'utf8');
    const fresh = await generateSdkTypes();
    // On failure: `npm run generate:sdk`, then review and commit sdk/src/generated/openapi.ts.
    expect(committed === fresh, 'sdk/src/generated/openapi.ts has drifted: run `npm run generate:sdk`').toBe(
      true,
    );
  }, 60_000);
});
