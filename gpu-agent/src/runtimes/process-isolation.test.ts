import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../agent/logger.js';
import { Reconciler } from '../agent/reconciler.js';
import { SupervisedRuntime } from '../agent/supervised-runtime.js';
import { UsageMeter } from '../agent/usage-meter.js';
import { WorkloadStore } from '../agent/workload-store.js';
import { jupyterServerCommand, notebookEnv } from './jupyter.js';
import { ProcessRuntime } from './process-runtime.js';
import { attackScript, runInKernel } from './testing/jupyter-kernel.js';
import {
  bindMetadataAddress,
  listenOn,
  METADATA_ADDRESS,
  type TestListener,
} from './testing/metadata-address.js';
import type { WorkloadSpec } from './types.js';
import { WorkloadDirs } from './workload-dirs.js';

const run = promisify(execFile);

// Hostile notebooks on one host, with Debian's real jupyter-server, under the process runtime. The attacks of
// issue 17: read the agent's credential, another notebook's token (its /proc/<pid>/environ) and files, and
// reach another org's model server, the agent's port and the cloud metadata address. Each is first shown to
// work from an unisolated process (what the runtime used to start: the agent's user, the host's network),
// so the refusals below are the isolation's doing.
const JUPYTER = '/usr/bin/jupyter-server';
let root = '';
let dataDir = '';
let unbindMetadata: () => Promise<void> = async () => {};
const listeners: TestListener[] = [];
const tokens = { a: randomBytes(24).toString('hex'), b: randomBytes(24).toString('hex') };

const runtime = () =>
  new ProcessRuntime({
    dataDir,
    agentId: 'agt_isolation',
    workloads: new WorkloadDirs(join(root, 'workloads')),
  });
const RUN = randomBytes(4).toString('hex');
const notebook = (id: 'a' | 'b'): WorkloadSpec => ({
  workloadId: `nb_${id}`,
  kind: 'notebook',
  command: jupyterServerCommand({ executable: JUPYTER, basePath: `/notebooks/nb_${id}/` }),
  env: notebookEnv(tokens[id]),
  gpus: { count: 0, deviceIds: [] },
  port: 8888,
  // Unique per run: a workload user is named after its volume, and runs at once must not share one.
  volume: `volume-${id}-${RUN}`,
  tenant: `org_${id}`,
  labels: {},
});
const probe = (id: 'a' | 'b') => ({ path: `/notebooks/nb_${id}/api`, timeoutMs: 30_000 });

beforeAll(async () => {
  if (!existsSync(JUPYTER))
    throw new Error(`${JUPYTER} is missing: run scripts/ensure-system-deps.mjs as root`);
  // Outside /tmp, as a real workloads root is: a root under /tmp keeps the host's /tmp (see tmpCovers).
  root = mkdtempSync('/var/lib/meridian-isolation-');
  chmodSync(root, 0o711);
  dataDir = join(root, 'agent', 'processes');
  // The agent's private state, as registration writes it.
  mkdirSync(join(root, 'agent'), { mode: 0o700 });
  writeFileSync(join(root, 'agent', 'credential.json'), '{"credential":"mac_secret"}', { mode: 0o600 });
  // A secret of the agent's own environment: no workload may see it.
  process.env.MERIDIAN_AGENT_BOOTSTRAP_TOKEN = 'mbt_agent_secret';
  unbindMetadata = await bindMetadataAddress();
  listeners.push(await listenOn(METADATA_ADDRESS), await listenOn('127.0.0.1'), await listenOn('127.0.0.1'));
}, 30_000);

afterAll(async () => {
  delete process.env.MERIDIAN_AGENT_BOOTSTRAP_TOKEN;
  await Promise.all(listeners.map((l) => l.close()));
  await unbindMetadata();
  if (!root) return;
  for (const w of await runtime().list()) await runtime().remove(w.workloadId, { deleteVolume: true });
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('a hostile notebook under the process runtime', () => {
  let targets: Parameters<typeof attackScript>[0];

  it('starts two notebooks of two orgs, each as its own user', async () => {
    for (const id of ['a', 'b'] as const) {
      await runtime().start(notebook(id));
      await runtime().waitForHealthy(`nb_${id}`, probe(id));
    }
    const [a, b] = await runtime().list();
    expect(a?.ref).not.toBe(b?.ref);
    writeFileSync(join(root, 'workloads', 'volumes', `volume-b-${RUN}`, 'private.txt'), 'b only');
    const [metadata, modelServer, agentPort] = listeners;
    if (!metadata || !modelServer || !agentPort) throw new Error('listeners did not start');
    targets = {
      read: {
        credential: join(root, 'agent', 'credential.json'),
        environ: `/proc/${b?.ref}/environ`,
        otherVolume: join(root, 'workloads', 'volumes', `volume-b-${RUN}`, 'private.txt'),
      },
      connect: { metadata, modelServer, agentPort },
    };
  }, 90_000);

  it('first: an unisolated process (the agent’s user, the host network) gets all of it', async () => {
    const { stdout } = await run('python3', ['-c', attackScript(targets)]);
    expect(JSON.parse(stdout)).toEqual({
      credential: 'ok',
      environ: 'ok',
      otherVolume: 'ok',
      metadata: 'ok',
      modelServer: 'ok',
      agentPort: 'ok',
    });
  });

  it('then: code run in a notebook cell gets none of it', async () => {
    const [a] = await runtime().list();
    const base = `http://${a?.endpoint?.host}:${a?.endpoint?.port}/notebooks/nb_a/`;
    const result = JSON.parse(await runInKernel(base, tokens.a, attackScript(targets))) as Record<
      string,
      string
    >;
    console.info('attacks from a notebook cell:', result);
    expect(result.credential).toMatch(/^PermissionError/);
    expect(result.environ).toMatch(/^PermissionError/);
    expect(result.otherVolume).toMatch(/^PermissionError/);
    // Its own network namespace has loopback only: nothing of the host answers there.
    expect(result.metadata).toMatch(/^OSError: \[Errno 101\] Network is unreachable|^ConnectionRefused/);
    expect(result.modelServer).toMatch(/^ConnectionRefusedError/);
    expect(result.agentPort).toMatch(/^ConnectionRefusedError/);
  }, 60_000);

  it('gives each notebook a temp dir of its own, as /tmp too, that no other notebook can list', async () => {
    const kernelOf = async (id: 'a' | 'b') => {
      const w = (await runtime().list()).find((x) => x.workloadId === `nb_${id}`);
      const base = `http://${w?.endpoint?.host}:${w?.endpoint?.port}/notebooks/nb_${id}/`;
      return (code: string) => runInKernel(base, tokens[id], code);
    };
    // Each writes a file where code puts temp files: tempfile's dir and /tmp itself.
    const write = (id: string) => `
import json, os, tempfile
d = tempfile.gettempdir()
open(os.path.join(d, 'secret-${id}.txt'), 'w').write('${id} only')
open('/tmp/plain-${id}.txt', 'w').write('${id} only')
print(json.dumps({'dir': d, 'env': [os.environ.get(k) for k in ('TMPDIR', 'TEMP', 'TMP')],
  'mode': oct(os.stat(d).st_mode & 0o777), 'names': sorted(os.environ)}))`;
    const a = JSON.parse(await (await kernelOf('a'))(write('a'))) as Record<string, unknown>;
    const b = JSON.parse(await (await kernelOf('b'))(write('b'))) as Record<string, unknown>;
    expect(a.dir).toBe(join(root, 'workloads', 'run', 'nb_a', 'tmp'));
    expect(a.env).toEqual([a.dir, a.dir, a.dir]);
    expect(a.mode).toBe('0o700');
    expect(b.dir).toBe(join(root, 'workloads', 'run', 'nb_b', 'tmp'));
    // Nothing of the agent's own environment (its credentials, its settings): only what the runtime sets.
    expect(a.names).not.toContain('MERIDIAN_AGENT_BOOTSTRAP_TOKEN');
    expect(
      (a.names as string[]).filter((n) => n.startsWith('MERIDIAN_AGENT_') && n !== 'MERIDIAN_AGENT_ID'),
    ).toEqual([]);

    // b, as a hostile neighbour: it lists a's temp dir and /tmp, and opens a's files by name.
    const snoop = `
import json, os
def attempt(f):
    try: return f()
    except Exception as e: return type(e).__name__
print(json.dumps({
  'listOther': attempt(lambda: os.listdir(${JSON.stringify(a.dir)})),
  'readOther': attempt(lambda: open(${JSON.stringify(`${a.dir}/secret-a.txt`)}).read()),
  'tmp': sorted(os.listdir('/tmp')),
  'readTmp': attempt(lambda: open('/tmp/plain-a.txt').read()),
  'varTmp': attempt(lambda: open('/var/tmp/plain-a.txt').read()),
}))`;
    expect(JSON.parse(await (await kernelOf('b'))(snoop))).toEqual({
      listOther: 'PermissionError',
      readOther: 'PermissionError',
      // Its own /tmp: its own two files, none of a's and none of the host's.
      tmp: ['plain-b.txt', 'secret-b.txt'],
      readTmp: 'FileNotFoundError',
      varTmp: 'FileNotFoundError',
    });
    // The host's /tmp never saw either.
    expect(existsSync('/tmp/plain-a.txt') || existsSync('/tmp/plain-b.txt')).toBe(false);
  }, 60_000);

  it('never puts the token on the world-readable command line', async () => {
    const [, b] = await runtime().list();
    const { stdout } = await run('cat', [`/proc/${b?.ref}/cmdline`]);
    expect(stdout).not.toContain(tokens.b);
  });
});

describe('an agent that cannot isolate', () => {
  it('refuses the notebook with the reason instead of running it unisolated', async () => {
    const refusing = new ProcessRuntime({
      dataDir: join(root, 'other-agent'),
      agentId: 'agt_unisolated',
      workloads: new WorkloadDirs(join(root, 'workloads')),
      isolation: Promise.resolve({ ok: false, reason: 'the agent runs as uid 1000, not root' }),
    });
    await expect(refusing.start(notebook('a'))).rejects.toThrow(
      /cannot isolate tenant workloads, so it refuses to run them: the agent runs as uid 1000, not root/,
    );
    expect(await refusing.list()).toEqual([]);

    // What the control plane hears: the notebook failed, with that reason in its status.
    const reconciler = new Reconciler({
      runtimes: [new SupervisedRuntime({ name: 'process', supervisor: refusing })],
      store: new WorkloadStore(join(root, 'other-agent')),
      usage: new UsageMeter(),
      hostHasGpus: () => false,
      log: silentLogger,
    });
    await reconciler.apply({
      version: 1,
      workloads: [
        {
          kind: 'notebook',
          workloadId: 'wl_refused',
          notebookId: 'nb_refused',
          orgId: 'org_a',
          image: 'meridian/notebook',
          gpuType: 'cpu',
          gpuCount: 0,
          idleTimeoutSeconds: 60,
          token: tokens.a,
          basePath: '/notebooks/nb_refused/',
        },
      ],
    });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([
      {
        workloadId: 'wl_refused',
        phase: 'failed',
        reason: expect.stringMatching(/cannot isolate.*not root/),
      },
    ]);
  });

  it('says why when workload users cannot reach the workloads dir', async () => {
    const closed = mkdtempSync(join(tmpdir(), 'meridian-closed-')); // 0700
    try {
      const refusing = new ProcessRuntime({
        dataDir: join(closed, 'agent'),
        agentId: 'agt_closed',
        workloads: new WorkloadDirs(join(closed, 'workloads')),
      });
      expect(await refusing.isolationStatus()).toEqual({
        ok: false,
        reason: expect.stringMatching(new RegExp(`${closed} is mode 0700 \\(needs o\\+x`)),
      });
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });
});
