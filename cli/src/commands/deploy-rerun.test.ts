import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Schema } from '@meridian/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCaptured } from '../main-captured.test-helper.js';

type Deployment = Schema<'Deployment'>;
type Model = Schema<'Model'>;

const model = (over: Partial<Model> = {}): Model => ({
  id: 'mdl_1',
  name: 'ocr-cls',
  description: '',
  tags: {},
  latestVersion: 1,
  aliases: [],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

const deployment = (version: number, requested = `version:${version}`, over: Partial<Deployment> = {}) =>
  ({
    id: 'dep_1',
    name: 'ocr-cls',
    modelId: 'mdl_1',
    modelName: 'ocr-cls',
    status: 'ready',
    statusReason: null,
    gpuType: 'cpu',
    image: null,
    desiredReplicas: 1,
    replicas: { failed: 0, loading: 0, pending: 0, pulling: 0, ready: 1, stopped: 0, total: 1 },
    rollout: null,
    version: { id: `ver_${version}`, version, requested },
    ...over,
  }) as Deployment;

// `meridian deploy MODEL` again, with nothing asked, once sent `PATCH {}` and the control plane answered 400.
// A fake control plane answers here: the model and its deployment as each case sets them, and a PATCH that
// serves what it asked for (ready at once), so the requests the CLI makes can be read back.
describe('deploy run again on a deployment that exists, with nothing asked', () => {
  let dir = '';
  let server: Server;
  const saved = { ...process.env };
  let state: { model: Model; deployment: Deployment };
  let patches: unknown[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-deploy-rerun-'));
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method === 'GET' && url.pathname === '/v1/models')
          return reply(200, { items: [state.model] });
        if (req.method === 'GET' && url.pathname === '/v1/deployments')
          return reply(200, { items: [state.deployment] });
        if (req.method === 'GET' && url.pathname === '/v1/deployments/dep_1')
          return reply(200, state.deployment);
        if (req.method === 'PATCH' && url.pathname === '/v1/deployments/dep_1') {
          const body = JSON.parse(text) as { version?: number; alias?: string };
          patches.push(body);
          // As the control plane does: an update must ask for something.
          if (Object.keys(body).length === 0)
            return reply(400, {
              error: {
                code: 'invalid_request',
                message: '(body): version, alias, canary, an autoscaling setting, batching or deterministic',
              },
            });
          const alias = state.model.aliases.find((a) => a.alias === body.alias);
          const version = body.version ?? alias?.version ?? state.deployment.version.version;
          const requested = body.version ? `version:${version}` : `alias:${body.alias}`;
          state.deployment = deployment(version, requested);
          return reply(200, { ...state.deployment, status: 'pending' });
        }
        reply(404, { error: { code: 'not_found', message: `no ${req.method} ${url.pathname}` } });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.MERIDIAN_CONFIG_DIR = dir;
    process.env.MERIDIAN_API_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.MERIDIAN_TOKEN = 'mk_test_unused';
  });

  afterAll(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    patches = [];
  });

  const run = (args: string[]) => runCaptured(args);

  it('rolls out the latest version when the deployment serves an older one, and says so (models push v2 → deploy --wait)', async () => {
    state = { model: model({ latestVersion: 2 }), deployment: deployment(1) };
    const { code, stdout, stderr } = await run(['deploy', 'ocr-cls', '--wait']);
    expect(stderr).toContain('ocr-cls: rolling out v2 (was v1)\n');
    expect(code).toBe(0);
    expect(patches).toEqual([{ version: 2 }]);
    expect(stdout).toBe('ocr-cls ready: ocr-cls v2\n');
  });

  it('changes nothing when it serves the latest version, and shows it (the README quick start run twice)', async () => {
    state = { model: model({ latestVersion: 1 }), deployment: deployment(1) };
    const { code, stdout, stderr } = await run(['deploy', 'ocr-cls', '--gpu', 'cpu', '--wait']);
    expect(stderr).toContain('ocr-cls: serves v1, the latest version of ocr-cls; nothing to change\n');
    expect(code).toBe(0);
    expect(patches).toEqual([]);
    expect(stdout).toBe('ocr-cls ready: ocr-cls v1\n');
    expect((await run(['deploy', 'ocr-cls', '--json'])).code).toBe(0);
    expect(patches).toEqual([]);
  });

  it('follows the alias a deployment was asked by, not the latest version', async () => {
    const aliases = [{ alias: 'prod', version: 2 }];
    state = { model: model({ latestVersion: 3, aliases }), deployment: deployment(1, 'alias:prod') };
    const moved = await run(['deploy', 'ocr-cls']);
    expect(moved.stderr).toContain('ocr-cls: rolling out v2 (was v1), the version alias prod names now\n');
    expect(moved.code).toBe(0);
    expect(patches).toEqual([{ alias: 'prod' }]);
    patches = [];
    const again = await run(['deploy', 'ocr-cls']);
    expect(again.stderr).toContain('ocr-cls: serves v2, the version alias prod names; nothing to change\n');
    expect(again.code).toBe(0);
    expect(patches).toEqual([]);
  });

  it('leaves a running canary alone rather than promoting it at once', async () => {
    const rollout = {
      state: 'canary',
      version: 2,
      share: 0.1,
      step: 1,
      steps: [0.1, 1],
      stepStartedAt: null,
    };
    state = {
      model: model({ latestVersion: 2 }),
      deployment: deployment(1, 'version:1', { rollout } as unknown as Partial<Deployment>),
    };
    const { code, stderr } = await run(['deploy', 'ocr-cls']);
    expect(stderr).toMatch(/ocr-cls: canary v2: step 1 of 1, .*; nothing changed while it runs\n/);
    expect(code).toBe(0);
    expect(patches).toEqual([]);
  });

  it('ends --wait on a deployment scaled to zero, which no wait would wake', async () => {
    const replicas = { failed: 0, loading: 0, pending: 0, pulling: 0, ready: 0, stopped: 0, total: 0 };
    const idle = { status: 'idle', statusReason: 'scaled to zero; the next call wakes it', replicas };
    state = { model: model(), deployment: deployment(1, 'version:1', idle as Partial<Deployment>) };
    const { code, stdout } = await run(['deploy', 'ocr-cls', '--wait', '--timeout', '5']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ocr-cls idle: ocr-cls v1/);
  });

  it('refuses, as usage, a deployment of that name that serves another model', async () => {
    state = { model: model({ id: 'mdl_2', name: 'other' }), deployment: deployment(1) };
    const { code, stderr } = await run(['deploy', 'other', '--name', 'ocr-cls']);
    expect(stderr).toBe(
      'meridian: ocr-cls serves model ocr-cls, not other: deploy other under another --name\n',
    );
    expect(code).toBe(2);
    expect(patches).toEqual([]);
  });
});
