import { execFile, spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeNpy, MeridianClient, predict } from '@meridian/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { buildCli, type CliResult, collect } from './helpers/cli.js';
import { directScores, INPUT, SHAPE } from './helpers/quick-start-input.js';
import { type Stack, startStack } from './helpers/stack.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const METRICS = 'error_rate, p95_latency_ms, ready_replicas, lost_agent, spend_usd, quota_used, drift_score';

/** The commands of the fenced block under the README's "Quick start" heading, comments left out. */
async function quickStartCommands(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Quick start$/m)[1] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
}

const expectClose = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i] as number, 5);
};

/**
 * The `meridian` binary driven as a user does (spawned, output captured, --json parsed) against the real
 * platform: control plane, a CPU agent and the edge in workerd, shared by every test of this file.
 */
describe('the meridian CLI against the platform', () => {
  let stack: Stack;
  let cli: Awaited<ReturnType<typeof buildCli>>;
  let home = '';
  const env = () => ({
    HOME: home,
    MERIDIAN_CONFIG_DIR: join(home, 'config'),
    MERIDIAN_API_URL: stack.cp.url,
    MERIDIAN_EDGE_URL: stack.edge.url,
  });
  const ok = (r: CliResult) => {
    expect(r.code, `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    stack = await startStack('cli-e2e', {
      // Alerts: rules judged every second, and a webhook receiver on loopback (refused by default).
      MERIDIAN_ALERT_EVALUATE_SECONDS: '1',
      MERIDIAN_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    home = join(stack.dir, 'home');
    await mkdir(home, { recursive: true });
    cli = await buildCli(env);
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(stack.logs());
  });

  afterAll(async () => {
    await cli?.remove();
    await stack?.stop();
  });

  it("runs the README quick start line by line, and its prediction equals onnxruntime's", async () => {
    const commands = await quickStartCommands();
    expect(commands.length).toBeGreaterThanOrEqual(5);
    // The block runs as written in a fresh directory with the repository's node_modules; `npx meridian`
    // is the built binary (npx itself would compile the sources with tsx on every call).
    const cwd = join(stack.dir, 'quickstart');
    await mkdir(cwd);
    await symlink(join(REPO_ROOT, 'node_modules'), join(cwd, 'node_modules'));
    const shim = `npx() { if [ "$1" = meridian ]; then shift; node ${cli.bundle} "$@"; else command npx "$@"; fi; }`;
    let last: CliResult | undefined;
    for (const command of commands) {
      const child = spawn('bash', ['-c', `${shim}\n${command}`], {
        cwd,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env() },
      });
      last = ok(await collect(child));
      if (command.includes(' models push ')) {
        // Not a terminal: plain progress lines, one per 10% step at most, ending at 100%.
        const progress = last.stderr.split('\n').filter((l) => l.startsWith('uploading'));
        expect(progress.length, last.stderr).toBeGreaterThanOrEqual(1);
        expect(progress.length, last.stderr).toBeLessThanOrEqual(11);
        expect(progress.at(-1)).toMatch(/^uploading 100% \| 0\.6\/0\.6 MiB$/);
      }
      if (command.includes(' deploy ')) {
        // --wait showed the phases as they came, ending in ready.
        const phases = [...last.stderr.matchAll(/ocr-cls: (\w+)/g)].map((m) => m[1]);
        expect(phases.at(-1)).toBe('ready');
        expect(new Set(phases).size).toBeGreaterThanOrEqual(2);
      }
    }
    const answer = JSON.parse(last?.stdout ?? '') as { outputs: { data: number[] }[] };
    expectClose(answer.outputs[0]?.data ?? [], await directScores());
    // Its deploy line again, on the deployment it made: nothing asked and no newer version, so nothing
    // changes (it once sent an empty update, refused with 400), and --wait still ends ready.
    const again = ok(await cli.run(['deploy', 'ocr-cls', '--gpu', 'cpu', '--wait']));
    expect(again.stderr).toContain('ocr-cls: serves v1, the latest version of ocr-cls; nothing to change\n');
    expect(again.stdout).toBe('ocr-cls ready: ocr-cls v1\n');
  }, 180_000);

  it('predicts from a .npy file (binary OIP) exactly what the JSON path answers', async () => {
    const npy = join(stack.dir, 'x.npy');
    await writeFile(npy, encodeNpy({ name: 'x', datatype: 'FP32', shape: SHAPE, data: INPUT }));
    const fromNpy = ok(await cli.run(['predict', 'ocr-cls', '--input', `x=@${npy}`, '--json']));
    const json = JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: [...INPUT] }],
    });
    const fromJson = ok(await cli.run(['predict', 'ocr-cls', '--data', '-'], { input: json }));
    const a = JSON.parse(fromNpy.stdout) as { outputs: { data: number[] }[] };
    const b = JSON.parse(fromJson.stdout) as { outputs: { data: number[] }[] };
    expect(a.outputs[0]?.data).toEqual(b.outputs[0]?.data);
    expectClose(a.outputs[0]?.data ?? [], await directScores());

    // Simple JSON with a predict-only key, as the dashboard's snippet has it: straight to the edge by name,
    // with no control-plane lookup (that needs deployments:read, and answered 403).
    const created = ok(await cli.run(['keys', 'create', 'predict-only', '--scope', 'predict', '--json']));
    const predictOnly = { MERIDIAN_TOKEN: (JSON.parse(created.stdout) as { secret: string }).secret };
    const nest = (data: number[], shape: number[]): unknown => {
      const [n = 0, ...rest] = shape;
      const size = data.length / n;
      return rest.length === 0
        ? data
        : Array.from({ length: n }, (_, i) => nest(data.slice(i * size, (i + 1) * size), rest));
    };
    const simpleInput = JSON.stringify({ inputs: { x: nest([...INPUT], SHAPE) } });
    const simple = ok(
      await cli.run(['predict', 'ocr-cls', '--data', '-'], { input: simpleInput, env: predictOnly }),
    );
    const outputs = (JSON.parse(simple.stdout) as { outputs: Record<string, unknown[]> }).outputs;
    expectClose(Object.values(outputs)[0]?.flat(Number.POSITIVE_INFINITY) as number[], await directScores());
    // The simple route has no version pin: --version with it is refused as usage, before any request.
    const pinned = await cli.run(['predict', 'ocr-cls', '--version', '1', '--data', '-'], {
      input: simpleInput,
      env: predictOnly,
    });
    expect([pinned.code, pinned.stdout]).toEqual([2, '']);
    expect(pinned.stderr).toMatch(/^meridian: --version pins a version of an OIP request/);
  }, 60_000);

  it("pins a model version with deploy and predict's own --version, not the CLI's", async () => {
    const deployed = ok(await cli.run(['deploy', 'ocr-cls', '--version', '1', '--json']));
    expect(JSON.parse(deployed.stdout)).toMatchObject({ name: 'ocr-cls', version: { version: 1 } });
    const input = JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: [...INPUT] }],
    });
    const pinned = ok(await cli.run(['predict', 'ocr-cls', '--version', '1', '--data', '-'], { input }));
    expect(JSON.parse(pinned.stdout)).toMatchObject({ model_name: 'ocr-cls', model_version: '1' });
    const missing = await cli.run(['predict', 'ocr-cls', '--version', '9', '--data', '-'], { input });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("version '9' of model 'ocr-cls' is not being served");
    // Before any command, it is still the CLI's own.
    for (const flag of ['--version', '-V']) expect(ok(await cli.run([flag])).stdout).toBe('0.1.0\n');
    expect(ok(await cli.run(['--help'])).stdout).toMatch(/-V, --version +output the version number/);
  }, 60_000);

  it('resumes a push killed at 40% without sending the stored parts again', async () => {
    const file = join(stack.dir, 'big-model.pt');
    const bytes = randomBytes(60 * 1024 * 1024);
    await writeFile(file, bytes);
    // A second model needs more than the Free plan: the refusal names the command, and the owner runs it.
    const refused = await cli.run(['models', 'push', file, '--name', 'big']);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain('`meridian plan set pro`');
    expect(ok(await cli.run(['plan'])).stdout).toMatch(
      / is on Free: \$0 a month, 1,000 calls a month, 1 model\nThis month: [\d,]+ of 1,000 calls \(\d+%\), \d of 1 model, \$\d+\.\d\d so far\n/,
    );
    expect(ok(await cli.run(['plan', 'set', 'pro'])).stdout).toBe(
      'Moved from Free to Pro: $199 a month, 100,000 calls a month, 10 models\n',
    );
    expect(JSON.parse(ok(await cli.run(['plan', '--json'])).stdout)).toMatchObject({
      plan: 'pro',
      limits: { monthlyCalls: 100_000, models: 10 },
    });
    const args = ['models', 'push', file, '--name', 'big', '--part-size', '5', '--concurrency', '1'];
    const first = cli.spawn(args);
    let stderr = '';
    const killedAt = await new Promise<number>((resolve) => {
      first.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        const percents = [...stderr.matchAll(/(\d+)%/g)].map((m) => Number(m[1]));
        const top = Math.max(0, ...percents);
        if (top >= 40 && first.exitCode === null) {
          first.kill('SIGKILL');
          resolve(top);
        }
      });
      first.once('exit', () => resolve(-1));
    });
    await new Promise((r) => first.once('close', r));
    expect(killedAt, stderr).toBeGreaterThanOrEqual(40);
    expect(killedAt).toBeLessThan(100);

    const logsBefore = stack.cp.logs().length;
    const second = ok(await cli.run([...args, '--json']));
    // The parts the second run put, as the control plane's storage route logged them: bytes on the wire.
    // Counted from the second run's listing of stored parts on: the killed run's last part may still finish
    // (and be logged) after the second run began, and is then listed as stored.
    const secondRun = stack.cp.logs().slice(logsBefore);
    const listed = [
      ...secondRun.matchAll(/"path":"\/v1\/models\/[^/"]+\/versions\/\d+\/parts","status":200/g),
    ];
    const partsPut = [
      ...secondRun
        .slice(listed.at(-1)?.index ?? 0)
        .matchAll(/"method":"PUT","path":"\/v1\/storage\/uploads\/[^/"]+\/parts\/(\d+)","status":200/g),
    ].map((m) => Number(m[1]));
    const pushed = JSON.parse(second.stdout) as {
      status: string;
      sha256: string;
      sizeBytes: number;
      upload: { resumedBytes: number; sentBytes: number };
    };
    expect(pushed.status).toBe('ready');
    expect(pushed.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    // What the first run stored (at least the 40% it reported, in whole parts) was not sent again.
    expect(pushed.upload.resumedBytes).toBeGreaterThanOrEqual(0.35 * bytes.length);
    expect(pushed.upload.resumedBytes % (5 * 1024 * 1024)).toBe(0);
    expect(pushed.upload.sentBytes).toBe(bytes.length - pushed.upload.resumedBytes);
    const partBytes = 5 * 1024 * 1024;
    const storedParts = pushed.upload.resumedBytes / partBytes;
    // Exactly the parts not stored yet, none of the stored ones. Distinct numbers: a part the killed run was
    // still sending may finish after the listing, and the second run rightly sends it again.
    const missing = Array.from(
      { length: bytes.length / partBytes - storedParts },
      (_, i) => storedParts + 1 + i,
    );
    expect(
      [...new Set(partsPut)].sort((a, b) => a - b),
      `parts put: ${partsPut.join(',')}`,
    ).toEqual(missing);
    // The checkpoint is gone once the upload completed.
    expect(await readdir(join(home, 'config', 'uploads'))).toEqual([]);
  }, 120_000);

  it('exits non-zero with the reason when a deployment fails', async () => {
    const pushed = ok(
      await cli.run(['models', 'push', REAL_MODELS.paddleCls, '--name', 'fragile', '--json']),
    );
    const version = JSON.parse(pushed.stdout) as { id: string; modelId: string };
    const me = JSON.parse(ok(await cli.run(['whoami', '--json'])).stdout) as { org: { id: string } };
    // Storage loses the file after the upload was verified: the agent cannot load what it downloads.
    const key = `orgs/${me.org.id}/models/${version.modelId}/versions/${version.id}/model`;
    await writeFile(join(stack.dir, 'cp', 'objects', key), 'not an onnx model any more');
    const failed = await cli.run(['deploy', 'fragile', '--wait', '--timeout', '90']);
    expect(failed.code, `${failed.stdout}\n${failed.stderr}`).toBe(4);
    expect(failed.stderr).toMatch(/meridian: Deployment fragile failed: .+/);
    expect(failed.stderr).toMatch(/fragile: (pending|scheduled|pulling|loading)/);
    expect(failed.stderr).not.toMatch(/\n\s+at /);
    // Its log says why, from the agent that tried: the load failure, as the replica wrote it.
    expect(failed.stderr).toContain('meridian deployments logs fragile');
    await expect
      .poll(async () => (await cli.run(['deployments', 'logs', 'fragile'])).stdout, { timeout: 20_000 })
      .toMatch(/\[agent\] failed to start: .+/);
  }, 120_000);

  it('exits 4 naming the deployment when --wait runs out of time with it still pending', async () => {
    const asSam = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'sam' } });
    // A refused field is named once: in the message, not again as a detail below it.
    const breached = await cli.run(
      ['register', '--email', 'sam@example.com', '--name', 'Sam', '--password-stdin'],
      { input: 'password123\n', env: { MERIDIAN_PROFILE: 'sam' } },
    );
    expect(breached.code).toBe(1);
    expect(breached.stderr).toMatch(
      /^meridian: password: is in a list of passwords exposed in data breaches; choose another \(400 validation_failed\) \[request [\w-]+\]\n$/,
    );
    ok(
      await cli.run(['register', '--email', 'sam@example.com', '--name', 'Sam', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'sam' },
      }),
    );
    ok(await asSam('models', 'push', REAL_MODELS.paddleCls, '--name', 'cls'));
    // No agent of the stack has a T4: the deployment stays pending.
    const waited = await asSam('deploy', 'cls', '--name', 'stuck', '--gpu', 't4', '--wait', '--timeout', '1');
    expect(waited.code, waited.stderr).toBe(4);
    expect(waited.stderr).toMatch(/\nmeridian: Deployment stuck is still pending after the timeout\n$/);
    expect(waited.stderr).not.toContain('--debug');
    ok(await asSam('deployments', 'delete', 'stuck'));
  }, 60_000);

  it('keeps the login when two processes refresh it at once', async () => {
    // Spend the access token's freshness: both processes see it expired and refresh together.
    const file = join(home, 'config', 'credentials.json');
    const creds = JSON.parse(await readFile(file, 'utf8')) as {
      profiles: { default: { tokens: { expiresAt: number; refreshAt?: number } } };
    };
    creds.profiles.default.tokens = { ...creds.profiles.default.tokens, expiresAt: 0, refreshAt: 0 };
    await writeFile(file, JSON.stringify(creds), { mode: 0o600 });
    const [a, b] = await Promise.all([cli.run(['whoami', '--json']), cli.run(['whoami', '--json'])]);
    ok(a);
    ok(b);
    ok(await cli.run(['whoami']));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('says to log in again once the server no longer renews a login, as it does when none is kept', async () => {
    const asRita = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'rita' } });
    const password = 'correct horse battery staple\n';
    ok(
      await cli.run(['register', '--email', 'rita@example.com', '--name', 'Rita', '--password-stdin'], {
        input: password,
        env: { MERIDIAN_PROFILE: 'rita' },
      }),
    );
    // The login ends elsewhere (a logout on another machine; a removal from the org ends it the same way),
    // and the access token kept here has expired: the CLI must renew it, and the server refuses.
    const file = join(home, 'config', 'credentials.json');
    const creds = JSON.parse(await readFile(file, 'utf8')) as {
      profiles: Record<string, { tokens: { refreshToken: string; expiresAt: number; refreshAt?: number } }>;
    };
    const tokens = creds.profiles.rita?.tokens;
    if (!tokens) throw new Error('no login kept for rita');
    const ended = await fetch(`${stack.cp.url}/v1/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: tokens.refreshToken }),
    });
    expect(ended.status, await ended.text()).toBeLessThan(300);
    Object.assign(tokens, { expiresAt: 0, refreshAt: 0 });
    await writeFile(file, JSON.stringify(creds), { mode: 0o600 });

    for (const args of [['whoami'], ['--profile', 'rita', 'models', 'list']]) {
      const refused = await asRita(...args);
      expect([refused.code, refused.stderr]).toEqual([
        1,
        'meridian: The login of profile rita has ended (The refresh token is invalid or revoked): ' +
          'run `meridian login --profile rita` to log in again\n',
      ]);
    }
    ok(
      await cli.run(['login', '--profile', 'rita', '--email', 'rita@example.com', '--password-stdin'], {
        input: password,
      }),
    );
    expect(ok(await asRita('whoami')).stdout).toContain('rita@example.com');
  }, 60_000);

  it('answers the account, key, billing and notebook commands as JSON for scripts', async () => {
    const json = async (args: string[]) => JSON.parse(ok(await cli.run([...args, '--json'])).stdout);
    const orgs = await json(['orgs']);
    expect(orgs[0]).toMatchObject({ role: 'owner' });
    const key = await json(['keys', 'create', 'ci', '--scope', 'predict:ocr-cls']);
    expect(key.secret).toMatch(/^mk_live_/);
    const keys = await json(['keys', 'list']);
    expect(keys.map((k: { id: string }) => k.id)).toContain(key.id);
    // The secret is shown once: the list never carries it.
    expect(JSON.stringify(keys)).not.toContain(key.secret);
    ok(await cli.run(['keys', 'revoke', key.id]));
    expect((await json(['models', 'list'])).map((m: { name: string }) => m.name)).toContain('ocr-cls');
    expect((await json(['versions', 'ocr-cls']))[0]).toMatchObject({ version: 1, status: 'ready' });
    expect(await json(['deployments', 'events', 'ocr-cls'])).not.toHaveLength(0);
    expect(await json(['usage'])).toHaveProperty('totalUsd');
    expect(await json(['invoice'])).toHaveProperty('plan', 'pro');
    expect(await json(['notebooks', 'list'])).toEqual([]);
    const completion = ok(await cli.run(['completion', 'bash'])).stdout;
    expect(completion).toContain('complete -o default -F _meridian meridian');
    expect(completion).toContain('"models") words="create list push');
    expect(completion).toMatch(/^ {4}""\) words="[^"]*--version --json --profile/m);
  }, 60_000);

  it('revokes a key by its name, and refuses a name that two active keys share', async () => {
    const json = async (args: string[]) => JSON.parse(ok(await cli.run([...args, '--json'])).stdout);
    const first = await json(['keys', 'create', 'deploy-bot']);
    const revoked = ok(await cli.run(['keys', 'revoke', 'deploy-bot']));
    expect(revoked.stdout).toBe(`Revoked key deploy-bot (${first.id})\n`);
    const twins = [await json(['keys', 'create', 'twin']), await json(['keys', 'create', 'twin'])];
    const ambiguous = await cli.run(['keys', 'revoke', 'twin']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain('2 active keys are named twin');
    for (const twin of twins) expect(ambiguous.stderr).toContain(twin.id);
    const statuses = async () =>
      new Map((await json(['keys', 'list'])).map((k: { id: string; status: string }) => [k.id, k.status]));
    expect((await statuses()).get(twins[0].id)).toBe('active');
    ok(await cli.run(['keys', 'revoke', twins[0].id]));
    // One twin left active: its name now says which.
    ok(await cli.run(['keys', 'revoke', 'twin']));
    const after = await statuses();
    expect([after.get(first.id), after.get(twins[0].id), after.get(twins[1].id)]).toEqual([
      'revoked',
      'revoked',
      'revoked',
    ]);
    const gone = await cli.run(['keys', 'revoke', 'twin']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('meridian: No active key named twin\n');
  }, 60_000);

  it('deletes a model by name, and names the deployments that still serve it instead', async () => {
    // An account of its own (profile omar): a Free plan with its one model slot.
    const asOmar = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'omar' } });
    const json = async (...args: string[]) => JSON.parse(ok(await asOmar(...args, '--json')).stdout);
    ok(
      await cli.run(['register', '--email', 'omar@example.com', '--name', 'Omar', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'omar' },
      }),
    );
    ok(await asOmar('models', 'push', REAL_MODELS.paddleCls, '--name', 'cls'));
    ok(await asOmar('deploy', 'cls', '--gpu', 'cpu'));
    const served = await asOmar('models', 'delete', 'cls');
    expect([served.code, served.stderr]).toEqual([
      1,
      'meridian: Model cls is served by deployment cls: delete it first (meridian deployments delete NAME)\n',
    ]);
    expect((await json('models', 'list')).map((m: { name: string }) => m.name)).toEqual(['cls']);
    ok(await asOmar('deployments', 'delete', 'cls'));
    expect(ok(await asOmar('models', 'delete', 'cls')).stdout).toBe('Deleted model cls and its versions\n');
    expect(await json('models', 'list')).toEqual([]);
    const gone = await asOmar('models', 'delete', 'cls');
    expect([gone.code, gone.stderr]).toEqual([1, 'meridian: No model named cls\n']);
    // The slot is free again; scripts get the id.
    const again = await json('models', 'push', REAL_MODELS.paddleCls, '--name', 'cls2');
    expect(await json('models', 'delete', 'cls2')).toEqual({ deleted: again.modelId });
  }, 60_000);

  it('takes names that begin as ids do (mdl_…, dep_…) as names, and says no such name for one that is none', async () => {
    // An account of its own (profile dana): a Free plan with its one model slot.
    const asDana = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'dana' } });
    ok(
      await cli.run(['register', '--email', 'dana@example.com', '--name', 'Dana', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'dana' },
      }),
    );
    ok(await asDana('models', 'push', REAL_MODELS.paddleCls, '--name', 'mdl_cls'));
    expect(ok(await asDana('versions', 'mdl_cls')).stdout).toMatch(/^1 +ready +onnx/m);
    ok(await asDana('deploy', 'mdl_cls', '--name', 'dep_cls', '--gpu', 'cpu'));
    expect(ok(await asDana('deployments', 'get', 'dep_cls')).stdout).toMatch(
      /^dep_cls \(dep_[0-9a-z]{26}\)\n {2}model +mdl_cls v1\n/,
    );
    const missing = await asDana('deployments', 'get', 'dep_gone');
    expect([missing.code, missing.stderr]).toEqual([1, 'meridian: No deployment named dep_gone\n']);
    ok(await asDana('deployments', 'delete', 'dep_cls'));
    expect(ok(await asDana('models', 'delete', 'mdl_cls')).stdout).toBe(
      'Deleted model mdl_cls and its versions\n',
    );
  }, 60_000);

  it('deletes the model a refused first push created, so it holds no Free-plan slot, and keeps one that existed', async () => {
    const asNoor = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'noor' } });
    const names = async () =>
      (JSON.parse(ok(await asNoor('models', 'list', '--json')).stdout) as { name: string }[]).map(
        (m) => m.name,
      );
    ok(
      await cli.run(['register', '--email', 'noor@example.com', '--name', 'Noor', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'noor' },
      }),
    );
    const garbage = join(stack.dir, 'garbage.onnx');
    await writeFile(garbage, randomBytes(4096));
    const refused = await asNoor('models', 'push', garbage, '--name', 'junk');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(422 unprocessable\)/);
    expect(refused.stderr).toContain('Deleted model junk again: its first upload was refused');
    expect(await names()).toEqual([]);
    // The org's one model slot is free: a real model under another name is taken.
    ok(await asNoor('models', 'push', REAL_MODELS.paddleCls, '--name', 'real'));
    // A model that existed before the push stays, with the version it had.
    const onExisting = await asNoor('models', 'push', garbage, '--name', 'real');
    expect(onExisting.code).toBe(1);
    expect(onExisting.stderr).not.toContain('Deleted model');
    expect(await names()).toEqual(['real']);
  }, 60_000);

  it('runs a batch file with --wait: progress on stderr, the ended job once on stdout, files downloadable', async () => {
    const line = (id: string, data: number[]) =>
      JSON.stringify({
        custom_id: id,
        method: 'POST',
        url: '/v2/models/ocr-cls/infer',
        body: { inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data }] },
      });
    const file = join(stack.dir, 'batch.jsonl');
    await writeFile(file, `${line('good', [...INPUT])}\n${line('short', [1, 2])}\n`);
    const run = ok(await cli.run(['batch', 'create', file, '-d', 'ocr-cls', '--wait']));
    const id = /Created batch job (batch_\w+)/.exec(run.stderr)?.[1] ?? '';
    expect(id).not.toBe('');
    expect(run.stdout).toBe(`${id} completed on ocr-cls: 1/2 answered, 1 failed, $0.001\n`);
    expect(run.stderr).not.toContain('completed');
    expect(run.stderr).toContain(`meridian batch download ${id}`);
    const [outFile, errFile] = [join(stack.dir, 'out.jsonl'), join(stack.dir, 'err.jsonl')];
    const saved = ok(await cli.run(['batch', 'download', id, '-o', outFile, '-e', errFile]));
    expect(saved.stdout).toBe(`Saved ${outFile}\nSaved ${errFile}\n`);
    const output = JSON.parse(await readFile(outFile, 'utf8'));
    expectClose(output.response.body.outputs[0].data, await directScores());
    const errors = JSON.parse(await readFile(errFile, 'utf8'));
    expect(errors).toMatchObject({ custom_id: 'short', line: 2, error: { code: 'invalid_input' } });
    // Where both files cannot be saved is said before anything is fetched: one path for both (the error file
    // replaced the output), a folder, or a folder that does not exist (each once told to run it again).
    const same = await cli.run(['batch', 'download', id, '-o', outFile, '-e', outFile]);
    expect([same.code, same.stderr]).toEqual([
      2,
      `meridian: -o and -e name the same file (${outFile}): give each its own\n`,
    ]);
    expect(JSON.parse(await readFile(outFile, 'utf8'))).toMatchObject({ custom_id: 'good' });
    const folder = await cli.run(['batch', 'download', id, '-o', stack.dir, '-e', errFile]);
    expect([folder.code, folder.stderr]).toEqual([
      1,
      `meridian: -o ${stack.dir} is a folder: give a file path\n`,
    ]);
    const nowhere = join(stack.dir, 'no-such-folder');
    const missing = await cli.run(['batch', 'download', id, '-e', join(nowhere, 'err.jsonl')]);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      `meridian: -e ${join(nowhere, 'err.jsonl')}: there is no folder ${nowhere} to save it in\n`,
    ]);

    // A deployment that does not exist is refused before the file is uploaded.
    const unknown = await cli.run(['batch', 'create', file, '-d', 'no-such-deployment']);
    expect([unknown.code, unknown.stderr]).toEqual([1, 'meridian: No deployment named no-such-deployment\n']);

    // A file with no valid line fails at validation: the faults by line, and exit 4 for the script.
    await writeFile(file, '{"inputs": []}\nnot json\n');
    const failed = await cli.run(['batch', 'create', file, '-d', 'ocr-cls', '--wait']);
    expect(failed.code, failed.stderr).toBe(4);
    expect(failed.stdout).toMatch(/^batch_\w+ failed on ocr-cls: 0\/0 answered, 0 failed, \$0\.000\n/);
    // A bare request body, the likeliest first mistake, is told how a line is shaped.
    expect(failed.stdout).toContain(
      'line 1: invalid_line: the line has no method, url or body; each line is a request: {"custom_id": "…", "method": "POST"',
    );
    expect(failed.stdout).toContain('line 2: invalid_json: the line is not JSON');
    expect(failed.stderr).toMatch(/meridian: Batch job batch_\w+ failed\n$/);
    // The format a line needs is in the command's help.
    expect(ok(await cli.run(['batch', 'create', '--help'])).stdout).toContain('"custom_id": "img-1"');
  }, 120_000);

  it('counts ready replicas against what the autoscaler wants, not against --min', async () => {
    ok(await cli.run(['deploy', 'ocr-cls', '--min', '0', '--max', '3']));
    const list = ok(await cli.run(['deployments', 'list'])).stdout;
    // Still serving on its one replica: 1 of 1 wanted, where "1/0" would be ready out of the minimum.
    expect(list).toMatch(/ ocr-cls +ocr-cls +1 +ready +1\/1\n/);
    expect(ok(await cli.run(['deployments', 'get', 'ocr-cls'])).stdout).toContain(
      '\n  replicas    1 of 1 ready\n',
    );
  }, 60_000);

  it('tunes a deployment with deploy’s flags, shows it with deployments get, and follows a canary to its promotion or rollback', async () => {
    for (let i = 0; i < 2; i++)
      ok(await cli.run(['models', 'push', REAL_MODELS.paddleCls, '--name', 'tuned']));
    const tuning = ['--min', '0', '--max', '2', '--target-concurrency', '4', '--scale-to-zero-after', '10m'];
    const batching = ['--max-batch-size', '8', '--max-queue-delay', '2', '--deterministic'];
    ok(await cli.run(['deploy', 'tuned', '--version', '1', ...tuning, ...batching, '--wait']));
    const shown = ok(await cli.run(['deployments', 'get', 'tuned'])).stdout;
    expect(shown).toMatch(/^tuned \(dep_\w+\)\n {2}model {7}tuned v1\n/);
    for (const line of [
      '  scaling     0–2 replicas, 4 calls in flight per replica; up after 0s, down after 30s, to zero after 10m without calls',
      '  batching    up to 8 calls together, a call waits up to 2 ms for others',
      "  cache       repeats of an input are answered from the edge's cache",
      `  predict     POST ${stack.edge.url}/v2/models/tuned/infer`,
    ])
      expect(shown).toContain(`${line}\n`);
    // What the server would refuse, or silently keep, is refused before any change, as a usage error.
    const gpu = await cli.run(['deploy', 'tuned', '--gpu', 't4']);
    expect([gpu.code, gpu.stderr]).toEqual([
      2,
      'meridian: tuned exists, and --gpu (it runs on cpu) cannot change on it: deploy under another --name, or delete it first\n',
    ]);
    const hold = await cli.run(['deploy', 'tuned', '--hold-timeout', '10m']);
    expect([hold.code, hold.stderr]).toEqual([
      2,
      'meridian: --hold-timeout must be from 1s to 5m, not 10m\n',
    ]);

    // v2 as a canary: half the calls for one step of 1 s and at least 3 calls each side, then promoted.
    // Callers keep calling meanwhile, as they would; --wait follows it to the end. Latency is not judged
    // (--canary-max-p95 off): a p95 over a second's few calls is the new replica's first, slower calls, and
    // on CI's loaded two cores it read 612 ms against 242 and rolled this good canary back. The judge's
    // latency verdicts are canary-e2e's and judge.test.ts's to prove; this follows the CLI's flags and --wait.
    const canary = [
      '--canary',
      '50%',
      '--canary-window',
      '1s',
      '--canary-min-calls',
      '3',
      '--canary-max-p95',
      'off',
      '--no-deterministic',
    ];
    const rollout = cli.run(['deploy', 'tuned', '--version', '2', ...canary, '--wait', '--timeout', '90']);
    const key = JSON.parse(ok(await cli.run(['keys', 'create', 'canary-caller', '--json'])).stdout);
    const caller = new MeridianClient({ baseUrl: stack.cp.url, edgeUrl: stack.edge.url, apiKey: key.secret });
    const x = { name: 'x', datatype: 'FP32' as const, shape: SHAPE, data: INPUT };
    let done = false;
    const calls = (async () => {
      let answered = 0;
      while (!done) {
        await predict(caller, 'tuned', [x]);
        answered++;
      }
      return answered;
    })();
    const followed = await rollout.finally(() => {
      done = true;
    });
    expect(await calls).toBeGreaterThanOrEqual(6);
    ok(followed);
    const lines = followed.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^Updated deployment tuned \(dep_\w+\)$/);
    expect(lines[1]).toMatch(/^tuned: canary v2: step 1 of 1, 50% of calls/);
    expect(lines.at(-1)).toMatch(/^tuned: canary v2 promoted at \S+$/);
    expect(followed.stdout).toBe('tuned ready: tuned v2\n');
    const after = ok(await cli.run(['deployments', 'get', 'tuned'])).stdout;
    expect(after).toContain('  model       tuned v2\n');
    expect(after).toContain('  rollout     canary v2 promoted at ');
    expect(after).toContain('  cache       off\n');

    // A v3 whose file storage lost after upload: its canary replica cannot load, so it is rolled back, and
    // --wait exits 4 with the reason, as a failed deployment does.
    const pushed = ok(await cli.run(['models', 'push', REAL_MODELS.paddleCls, '--name', 'tuned', '--json']));
    const v3 = JSON.parse(pushed.stdout) as { id: string; modelId: string };
    const me = JSON.parse(ok(await cli.run(['whoami', '--json'])).stdout) as { org: { id: string } };
    const object = `orgs/${me.org.id}/models/${v3.modelId}/versions/${v3.id}/model`;
    await writeFile(join(stack.dir, 'cp', 'objects', object), 'not an onnx model any more');
    const bad = await cli.run([
      'deploy',
      'tuned',
      '--version',
      '3',
      '--canary',
      '50%',
      '--wait',
      '--timeout',
      '90',
    ]);
    expect(bad.code, `${bad.stdout}\n${bad.stderr}`).toBe(4);
    expect(bad.stderr).toMatch(
      /\nmeridian: Deployment tuned: canary v3 \(revision \d+\) rolled back: its replica failed to load .+\n$/,
    );
    expect(ok(await cli.run(['deployments', 'get', 'tuned'])).stdout).toContain('  model       tuned v2\n');

    // Asked again by an alias naming v2: nothing rolls out, and the deployment shows the alias. When the
    // alias moves on, `deployments get` says so and how to serve what it names now.
    ok(await cli.run(['aliases', 'set', 'tuned', 'prod', '2']));
    ok(await cli.run(['deploy', 'tuned', '--alias', 'prod', '--wait']));
    expect(ok(await cli.run(['deployments', 'get', 'tuned'])).stdout).toContain(
      '  model       tuned v2 (alias prod)\n',
    );
    ok(await cli.run(['aliases', 'set', 'tuned', 'prod', '1']));
    expect(ok(await cli.run(['deployments', 'get', 'tuned'])).stdout).toContain(
      '  model       tuned v2 (asked as alias prod, which now names v1: `meridian deploy tuned --alias prod` serves it)\n',
    );
    // `deploy` run again with nothing asked serves what the alias it was asked by names now (not v3, the latest).
    const again = ok(await cli.run(['deploy', 'tuned', '--wait']));
    expect(again.stderr).toContain('tuned: rolling out v1 (was v2), the version alias prod names now\n');
    expect(again.stdout).toBe('tuned ready: tuned v1\n');
  }, 240_000);

  it('sets up a webhook channel and an alert rule by name, and the rule fires to the webhook', async () => {
    // The receiver a user would point the channel at: it records each delivery with its headers.
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = ok(await cli.run(['channels', 'create', 'ops-hook', '--webhook', url]));
      const secret = /^(whsec_\S+)\n/.exec(created.stdout)?.[1] ?? '';
      expect(secret, created.stdout).not.toBe('');
      const tested = ok(await cli.run(['channels', 'test', 'ops-hook']));
      expect(tested.stdout).toBe('Delivered to ops-hook: HTTP 200\n');
      // The delivery is signed with the secret the CLI printed once.
      const test = received.at(-1);
      const [t, v1] = String(test?.headers['meridian-signature'])
        .split(',')
        .map((p) => p.split('=')[1]);
      const hmac = createHmac('sha256', secret).update(`${t}.${test?.body}`).digest('hex');
      expect(v1).toBe(hmac);

      // One ready replica, and the rule wants five: it fires at its first judgement.
      const rule = ok(
        await cli.run([
          'alerts',
          'create',
          'too-few-replicas',
          '-d',
          'ocr-cls',
          '--metric',
          'ready_replicas',
          '--threshold',
          '5',
          '--window',
          '1m',
          '--channel',
          'ops-hook',
        ]),
      );
      expect(rule.stdout).toBe('Created alert too-few-replicas on ocr-cls: ready_replicas < 5 over 1m\n');
      await expect
        .poll(() => received.map((r) => JSON.parse(r.body).type), { timeout: 30_000 })
        .toContain('alert.firing');
      const firing = received.map((r) => JSON.parse(r.body)).find((b) => b.type === 'alert.firing');
      expect(firing.rule).toMatchObject({ name: 'too-few-replicas', metric: 'ready_replicas', threshold: 5 });
      const list = ok(await cli.run(['alerts', 'list'])).stdout;
      expect(list).toMatch(/too-few-replicas +ocr-cls +ready_replicas < 5 over 1m +firing +1 +ops-hook\n/);
      expect(ok(await cli.run(['alerts', 'events', 'too-few-replicas'])).stdout).toMatch(/ firing +1 +yes\n/);
      const silenced = ok(await cli.run(['alerts', 'silence', 'too-few-replicas', '--for', '1h']));
      expect(silenced.stdout).toMatch(/^Silenced alert too-few-replicas until 20\d\d-/);

      // Mistakes are usage errors, said before anything is sent.
      const metric = await cli.run(['alerts', 'create', 'x', '--metric', 'cpu', '--threshold', '1']);
      expect([metric.code, metric.stderr]).toEqual([2, `meridian: --metric is one of ${METRICS}\n`]);
      // A rule that would be valid but for one flag.
      const createWith = (...flags: string[]) =>
        cli.run(['alerts', 'create', 'x', '--metric', 'error_rate', '--threshold', '1', ...flags]);
      const window = await createWith('--window', '5 minutes');
      expect(window.code).toBe(2);
      expect(window.stderr).toContain('--window wants a duration such as 90s, 5m, 2h or 1d');
      const unknown = await createWith('--channel', 'nope');
      expect([unknown.code, unknown.stderr]).toEqual([
        1,
        'meridian: No notification channel named nope (meridian channels list)\n',
      ]);

      expect(ok(await cli.run(['alerts', 'delete', 'too-few-replicas'])).stdout).toBe(
        'Deleted alert too-few-replicas\n',
      );
      expect(ok(await cli.run(['channels', 'delete', 'ops-hook'])).stdout).toBe('Deleted channel ops-hook\n');
      expect(JSON.parse(ok(await cli.run(['alerts', 'list', '--json'])).stdout)).toEqual([]);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  }, 90_000);

  it('refuses a channel or rule name that two share, listing their ids, and takes the id instead', async () => {
    const asPia = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'pia' } });
    const json = async (...args: string[]) => JSON.parse(ok(await asPia(...args, '--json')).stdout);
    ok(
      await cli.run(['register', '--email', 'pia@example.com', '--name', 'Pia', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'pia' },
      }),
    );
    const channels = [
      await json('channels', 'create', 'ops', '--email', 'ops@example.com'),
      await json('channels', 'create', 'ops', '--email', 'oncall@example.com'),
    ];
    const ambiguous = (what: string) =>
      new RegExp(
        `^meridian: 2 ${what} are named ops \\((\\w+), (\\w+)\\): give the id of the one you mean\n$`,
      );
    const rule = ['--metric', 'error_rate', '--threshold', '0.5'];
    const byName = await asPia('alerts', 'create', 'ops', ...rule, '--channel', 'ops');
    expect(byName.code).toBe(1);
    expect(byName.stderr).toMatch(ambiguous('notification channels'));
    for (const c of channels) expect(byName.stderr).toContain(c.id);
    expect(await json('alerts', 'list')).toEqual([]);
    const rules = [
      await json('alerts', 'create', 'ops', ...rule, '--channel', channels[1].id),
      await json('alerts', 'create', 'ops', ...rule),
    ];
    expect(rules[0].channelIds).toEqual([channels[1].id]);

    for (const args of [
      ['alerts', 'delete', 'ops'],
      ['alerts', 'events', 'ops'],
      ['alerts', 'silence', 'ops', '--for', '1h'],
    ]) {
      const refused = await asPia(...args);
      expect(refused.code, args.join(' ')).toBe(1);
      expect(refused.stderr).toMatch(ambiguous('alert rules'));
      for (const r of rules) expect(refused.stderr).toContain(r.id);
    }
    const deleteChannel = await asPia('channels', 'delete', 'ops');
    expect(deleteChannel.code).toBe(1);
    expect(deleteChannel.stderr).toMatch(ambiguous('notification channels'));
    // Nothing was deleted by a guess; the ids say which.
    expect((await json('alerts', 'list')).map((r: { id: string }) => r.id).sort()).toEqual(
      rules.map((r) => r.id).sort(),
    );
    expect((await json('channels', 'list')).length).toBe(2);
    expect(await json('alerts', 'delete', rules[0].id)).toEqual({ deleted: rules[0].id });
    expect(ok(await asPia('alerts', 'delete', 'ops')).stdout).toBe('Deleted alert ops\n');
    expect(await json('channels', 'delete', channels[0].id)).toEqual({ deleted: channels[0].id });
    expect(ok(await asPia('channels', 'delete', 'ops')).stdout).toBe('Deleted channel ops\n');
  }, 60_000);

  it('lists silences by rule name with who made them, and lifts one by its id', async () => {
    const asRosa = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'rosa' } });
    ok(
      await cli.run(['register', '--email', 'rosa@example.com', '--name', 'Rosa', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'rosa' },
      }),
    );
    ok(await asRosa('alerts', 'create', 'errors', '--metric', 'error_rate', '--threshold', '0.5'));
    const one = ok(await asRosa('alerts', 'silence', 'errors', '--for', '2h', '--comment', 'deploying v2'));
    const id = /meridian alerts unsilence (als_\w+)\)\n$/.exec(one.stdout)?.[1] ?? '';
    expect(id, one.stdout).not.toBe('');
    ok(await asRosa('alerts', 'silence', '--for', '30m'));

    const list = ok(await asRosa('alerts', 'silences')).stdout;
    expect(list).toMatch(/^ID +RULE +UNTIL +BY +COMMENT\n/);
    expect(list).toMatch(new RegExp(`^${id} +errors +20\\S+ +rosa@example\\.com +deploying v2$`, 'm'));
    expect(list).toMatch(/^als_\w+ +every rule +20\S+ +rosa@example\.com *$/m);
    const json = JSON.parse(ok(await asRosa('alerts', 'silences', '--json')).stdout) as { ruleId: unknown }[];
    expect(json).toHaveLength(2);

    expect(ok(await asRosa('alerts', 'unsilence', id)).stdout).toMatch(
      /^Lifted the silence on alert errors \(until 20\S+\)\n$/,
    );
    expect(ok(await asRosa('alerts', 'silences')).stdout).not.toContain(id);
    const again = await asRosa('alerts', 'unsilence', id);
    expect([again.code, again.stderr]).toEqual([
      1,
      `meridian: No silence in force has id ${id} (meridian alerts silences)\n`,
    ]);
  }, 60_000);

  it('creates an organisation, lists it, and switches to it as the output says', async () => {
    const asOla = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'ola' } });
    ok(
      await cli.run(['register', '--email', 'ola@example.com', '--name', 'Ola', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'ola' },
      }),
    );
    const created = ok(await asOla('orgs', 'create', 'Ola Labs')).stdout;
    expect(created).toMatch(
      /^Created organisation Ola Labs \(org_\w+\); you own it\nWork in it: meridian orgs switch 'Ola Labs'\n$/,
    );
    expect(ok(await asOla('orgs')).stdout).toMatch(/^ +org_\w+ +Ola Labs +owner$/m);
    expect(ok(await asOla('orgs', 'switch', 'Ola Labs')).stdout).toMatch(/^Now working in Ola Labs /);
    // A second one of the same name: the hint names it by id, which switch takes.
    const twin = JSON.parse(ok(await asOla('orgs', 'create', 'Ola Labs', '--json')).stdout) as { id: string };
    expect(twin).toMatchObject({ name: 'Ola Labs', role: 'owner' });
    const hint = ok(await asOla('orgs', 'create', 'Ola Labs')).stdout;
    expect(hint).toMatch(/\nWork in it: meridian orgs switch org_\w+\n$/);
  }, 60_000);

  it('lets owners allow and remove images, lists them for members, and tells a member why a change is refused', async () => {
    const password = 'correct horse battery staple\n';
    for (const [email, name] of [
      ['ivo@example.com', 'Ivo'],
      ['jun@example.com', 'Jun'],
    ] as const)
      ok(
        await cli.run(['register', '--email', email, '--name', name, '--password-stdin'], {
          input: password,
          env: { MERIDIAN_PROFILE: name.toLowerCase() },
        }),
      );
    const asIvo = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'ivo' } });
    const asJun = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'jun' } });

    expect(ok(await asIvo('images', 'allow', 'ghcr.io/acme/server:1.2')).stdout).toBe(
      'Allowed ghcr.io/acme/server:1.2 (1 on the allow-list)\n',
    );
    expect(ok(await asIvo('images', 'allow', 'ghcr.io/acme/tools')).stdout).toBe(
      'Allowed every tag of ghcr.io/acme/tools (2 on the allow-list)\n',
    );
    const list = ok(await asIvo('images', 'list')).stdout;
    expect(list).toMatch(/^IMAGE +FROM +ADDED\n/);
    expect(list).toMatch(/^\S+ +platform *$/m);
    expect(list).toMatch(/^ghcr\.io\/acme\/server:1\.2 +allow-list +20\S+$/m);

    // Jun is a member of Ivo's org: he reads the list, and is told who may change it.
    const invitedJun = JSON.parse(
      ok(await asIvo('members', 'invite', 'jun@example.com', '--role', 'member', '--json')).stdout,
    ) as { acceptUrl: string };
    ok(await asJun('invitations', 'accept', '--token', invitedJun.acceptUrl));
    ok(await asJun('orgs', 'switch', "Ivo's workspace"));
    expect(ok(await asJun('images')).stdout).toContain('ghcr.io/acme/tools');
    const refused = await asJun('images', 'allow', 'ghcr.io/jun/own:1');
    expect([refused.code, refused.stderr]).toEqual([
      1,
      "meridian: Only owners and admins of Ivo's workspace change its image allow-list: your role is member\n",
    ]);

    expect(ok(await asIvo('images', 'remove', 'ghcr.io/acme/tools')).stdout).toBe(
      'Removed ghcr.io/acme/tools from the allow-list; new workloads may not run it\n',
    );
    const gone = await asIvo('images', 'remove', 'ghcr.io/acme/tools');
    expect([gone.code, gone.stderr]).toEqual([
      1,
      'meridian: ghcr.io/acme/tools is not on the allow-list (meridian images list)\n',
    ]);
    const lists = JSON.parse(ok(await asIvo('images', '--json')).stdout) as { items: { image: string }[] };
    expect(lists.items.map((i) => i.image)).toEqual(['ghcr.io/acme/server:1.2']);
  }, 60_000);

  it('shows usage per deployment by the deployment’s name', async () => {
    // The quick start's predictions reach the ledger through the agent's usage report, within seconds.
    await expect
      .poll(async () => ok(await cli.run(['usage', '--group-by', 'deployment'])).stdout, { timeout: 30_000 })
      .toMatch(/^ocr-cls +inference_calls +\d+ +call +[\d.]+$/m);
    const byDeployment = ok(await cli.run(['usage', '--group-by', 'deployment'])).stdout;
    expect(byDeployment).toMatch(/^DEPLOYMENT +METER +QUANTITY +UNIT +USD$/m);
    expect(byDeployment).not.toContain('dep_');
    // By meter, the meter is the line: no column repeating it.
    expect(ok(await cli.run(['usage'])).stdout).toMatch(
      /^METER +QUANTITY +UNIT +USD\ninference_calls +\d+ +call/m,
    );
  }, 60_000);

  it('invites a user, who accepts; changes their role and removes them by e-mail, all in the audit log', async () => {
    // An owner and a second user of their own, each under a profile of their own.
    const password = 'correct horse battery staple\n';
    const register = (email: string, name: string) =>
      cli.run(['register', '--email', email, '--name', name, '--password-stdin', '--json'], {
        input: password,
        env: { MERIDIAN_PROFILE: name.toLowerCase() },
      });
    ok(await register('mina@example.com', 'Mina'));
    const tomas = JSON.parse(ok(await register('tomas@example.com', 'Tomas')).stdout) as {
      user: { id: string };
    };
    const asMina = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'mina' } });
    const asTomas = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'tomas' } });

    // Mistakes are refused before anything is sent.
    const role = await asMina('members', 'invite', 'tomas@example.com', '--role', 'superuser');
    expect([role.code, role.stderr]).toEqual([
      2,
      'meridian: Unknown role superuser: a role is one of owner, admin, member, viewer\n',
    ]);
    // An address with no account is invited all the same; without SMTP the link is shown, this once.
    const stranger = ok(await asMina('members', 'invite', 'nobody@example.com', '--role', 'viewer')).stdout;
    expect(stranger).toMatch(
      /^Invited nobody@example\.com to Mina's workspace as viewer; the invitation expires at 20\S+\nNo mail was sent \(no SMTP server is configured \(MERIDIAN_SMTP_HOST\)\)\. Pass them this link; it is shown only now:\n {2}http\S+\/invitations\?token=\S+\nor, signed in as nobody@example\.com: meridian invitations accept --token \S+\n$/,
    );
    expect(ok(await asMina('members', 'invitations')).stdout).toMatch(
      /^ID +EMAIL +ROLE +INVITED BY +EXPIRES\ninv_\w+ +nobody@example\.com +viewer +mina@example\.com +20/,
    );
    expect(ok(await asMina('members', 'revoke-invitation', 'nobody@example.com')).stdout).toBe(
      'Revoked the invitation of nobody@example.com (viewer)\n',
    );

    // Tomas is a member only once he accepts.
    const invited = JSON.parse(
      ok(await asMina('members', 'invite', 'tomas@example.com', '--role', 'viewer', '--json')).stdout,
    ) as { token: string };
    expect(ok(await asMina('members', 'list')).stdout).not.toContain('tomas@example.com');
    expect(ok(await asTomas('invitations', 'show', '--token', invited.token)).stdout).toMatch(
      /^mina@example\.com invited tomas@example\.com to Mina's workspace as viewer; the invitation expires at 20\S+\n$/,
    );
    expect(ok(await asTomas('invitations', 'accept', '--token', invited.token)).stdout).toBe(
      `Joined Mina's workspace as viewer; work in it with: meridian orgs switch "Mina's workspace"\n`,
    );
    expect(ok(await asMina('members', 'role', 'Tomas@Example.com', 'admin')).stdout).toBe(
      'Tomas (tomas@example.com) is now admin (was viewer)\n',
    );
    const list = ok(await asMina('members', 'list')).stdout;
    expect(list).toMatch(/^NAME +EMAIL +ROLE +JOINED\nMina +mina@example\.com +owner +20\d\d-/);
    expect(list).toMatch(/^Tomas +tomas@example\.com +admin +20\d\d-\d\d-\d\dT/m);
    expect(JSON.parse(ok(await asMina('members', 'list', '--json')).stdout)).toContainEqual(
      expect.objectContaining({ userId: tomas.user.id, email: 'tomas@example.com', role: 'admin' }),
    );
    // Tomas works in Mina's organisation by switching to it, and back; the login he leaves ends.
    const tomasLogin = async () => {
      const file = JSON.parse(await readFile(join(home, 'config', 'credentials.json'), 'utf8')) as {
        profiles: Record<string, { tokens: { refreshToken: string } }>;
      };
      return file.profiles.tomas?.tokens.refreshToken ?? '';
    };
    expect(ok(await asTomas('orgs')).stdout).toMatch(/^\* +org_\w+ +Tomas's workspace +owner$/m);
    const left = await tomasLogin();
    expect(ok(await asTomas('orgs', 'switch', "Mina's workspace")).stdout).toMatch(
      /^Now working in Mina's workspace \(org_\w+\) as admin\n$/,
    );
    expect(ok(await asTomas('whoami')).stdout).toContain("\norg: Mina's workspace (");
    expect(ok(await asTomas('members', 'list')).stdout).toMatch(/^Mina +mina@example\.com +owner/m);
    const refresh = (refreshToken: string) =>
      fetch(`${stack.cp.url}/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
      });
    expect((await refresh(left)).status).toBe(401);
    const unknown = await asTomas('orgs', 'switch', 'Nowhere');
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      'meridian: You belong to no organisation named Nowhere (meridian orgs lists yours)\n',
    ]);
    ok(await asTomas('orgs', 'switch', "Tomas's workspace"));
    expect(ok(await asTomas('whoami')).stdout).toContain("\norg: Tomas's workspace (");
    expect(ok(await asTomas('orgs', 'switch', "Tomas's workspace")).stdout).toMatch(
      /^Already working in Tomas's workspace \(org_\w+\) as owner\n$/,
    );

    // While he is a member, the log names him and Mina by e-mail.
    const named = ok(await asMina('audit', '--actor', 'mina@example.com', '--since', '1h', '--limit', '2'));
    expect(named.stdout).toMatch(
      /^TIME +ACTOR +ACTION +TARGET\n20\S+ +mina@example\.com +member\.role_change +tomas@example\.com\n20\S+ +mina@example\.com +invitation\.create +tomas@example\.com\n$/,
    );

    const keys = await asMina('members', 'remove', 'tomas@example.com', '--keys', 'keep');
    expect(keys.code).toBe(2);
    expect(keys.stderr).toContain('Allowed choices are revoke, transfer');
    expect(ok(await asMina('members', 'remove', 'tomas@example.com')).stdout).toBe(
      'Removed Tomas (tomas@example.com); the API keys they made were revoked\n',
    );
    expect(ok(await asMina('members', 'list')).stdout).not.toContain('tomas@example.com');
    const gone = await asMina('members', 'remove', 'tomas@example.com');
    expect([gone.code, gone.stderr]).toEqual([
      1,
      'meridian: No member with e-mail tomas@example.com (meridian members list)\n',
    ]);

    // Scripts get ids, newest first; a former member is still named by the e-mail the entry kept.
    const entries = JSON.parse(ok(await asMina('audit', '--since', '1h', '--json')).stdout) as {
      action: string;
      target: { id: string };
    }[];
    expect(
      entries.filter((e) => /^(member|invitation)\.(remove|role_change|accept)$/.test(e.action)),
    ).toEqual([
      expect.objectContaining({
        action: 'member.remove',
        target: { type: 'user', id: tomas.user.id },
        metadata: { keys: 'revoke', email: 'tomas@example.com' },
      }),
      expect.objectContaining({
        action: 'member.role_change',
        metadata: { from: 'viewer', to: 'admin', email: 'tomas@example.com' },
      }),
      expect.objectContaining({
        action: 'invitation.accept',
        actor: expect.objectContaining({ id: tomas.user.id }),
        metadata: expect.objectContaining({ role: 'viewer', email: 'tomas@example.com' }),
      }),
    ]);
    expect(ok(await asMina('audit', '--action', 'member.remove')).stdout).toMatch(
      /\n20\S+ +mina@example\.com +member\.remove +tomas@example\.com\n$/,
    );
    const since = await asMina('audit', '--since', 'last week');
    expect([since.code, since.stderr]).toEqual([
      2,
      'meridian: --since wants a duration such as 30m, 1h or 2d, or an ISO 8601 time, not last week\n',
    ]);
    // The org is minutes old: nothing in its log is older than an hour.
    expect(JSON.parse(ok(await asMina('audit', '--until', '1h', '--json')).stdout)).toEqual([]);
    const backwards = await asMina('audit', '--since', '1h', '--until', '2h');
    expect([backwards.code, backwards.stderr]).toEqual([2, 'meridian: --since must be before --until\n']);
  }, 60_000);

  it('prints usage and exits 2 for an unknown command or flag', async () => {
    const command = await cli.run(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    expect(command.stderr).toContain('Usage: meridian');
    const flag = await cli.run(['models', 'list', '--frobnicate']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--frobnicate'");
    expect(flag.stderr).toContain('Usage: meridian models list');
  }, 30_000);

  it('says a file is missing, and exits 1', async () => {
    const push = await cli.run(['models', 'push', '/nonexistent/model.onnx', '--name', 'x']);
    expect(push.code).toBe(1);
    expect(push.stderr).toBe('meridian: No such file: /nonexistent/model.onnx\n');
    const predict = await cli.run(['predict', 'ocr-cls', '--input', 'x=@/nonexistent/x.npy']);
    expect(predict.code).toBe(1);
    expect(predict.stderr).toContain('No such file: /nonexistent/x.npy');
  }, 30_000);

  it("prints a refused prediction's reason, code and request id, and exits 1", async () => {
    // The edge answers in OIP's shape, its code and request id beside the message.
    const unknown = await cli.run(['predict', 'no-such-model', '--data', '-'], { input: '{"inputs":[]}' });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^meridian: model 'no-such-model' not found: no deployment has that name \(404 not_found\) \[request [\w-]+\]\n$/,
    );
    // The agent's refusal carries its code too (bd77b3b), not a made-up `http_400`.
    const input = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: [1, 2] }] });
    const shape = await cli.run(['predict', 'ocr-cls', '--data', '-'], { input });
    expect(shape.code).toBe(1);
    expect(shape.stderr).toMatch(
      /^meridian: input 'x': .*needs \d+ elements.* \(400 bad_request\) \[request [\w-]+\]\n$/,
    );
  }, 30_000);

  it('explains a server that is down in one line, with a stack trace only under --debug', async () => {
    const down = { MERIDIAN_API_URL: 'http://127.0.0.1:9' };
    const plain = await cli.run(['models', 'list'], { env: down });
    expect(plain.code).toBe(3);
    expect(plain.stderr).toMatch(
      /^meridian: cannot reach the server at http:\/\/127\.0\.0\.1:9: is it running\?/,
    );
    expect(plain.stderr.trim().split('\n')).toHaveLength(1);
    const debug = await cli.run(['models', 'list', '--debug'], { env: down });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  }, 30_000);

  it('installs on its own from `npm pack` and talks to the platform', async () => {
    const project = join(stack.dir, 'installed');
    await mkdir(project);
    const run = promisify(execFile);
    // prepack bundles the SDK in; the package then needs only commander and cli-progress.
    await run('npm', ['pack', join(REPO_ROOT, 'cli'), '--pack-destination', project], { cwd: project });
    const tarball = (await readdir(project)).find((f) => f.endsWith('.tgz'));
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user', private: true }));
    await run('npm', ['install', `./${tarball}`, '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: project,
    });
    const { stdout } = await run(join(project, 'node_modules/.bin/meridian'), ['whoami', '--json'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env() },
    });
    expect(JSON.parse(stdout)).toHaveProperty('user.email', 'ada@example.com');
  }, 120_000);

  it('runs from the repository as `npx meridian`', async () => {
    const { stdout } = await promisify(execFile)('npx', ['meridian', '--version'], { cwd: REPO_ROOT });
    expect(stdout.trim()).toBe('0.1.0');
  }, 60_000);

  it('shows the runs a training script logged, by experiment and run names, with their metrics', async () => {
    // An account of its own (profile grace), so that it needs no other test's login.
    const asGrace = (...args: string[]) => cli.run(args, { env: { MERIDIAN_PROFILE: 'grace' } });
    const json = async (...args: string[]) => JSON.parse(ok(await asGrace(...args, '--json')).stdout);
    ok(
      await cli.run(['register', '--email', 'grace@example.com', '--name', 'Grace', '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: { MERIDIAN_PROFILE: 'grace' },
      }),
    );
    expect(ok(await asGrace('experiments', 'create', 'sentiment')).stdout).toBe(
      'Created experiment sentiment\n',
    );
    expect(ok(await asGrace('experiments', 'list')).stdout).toMatch(/^NAME +CREATED\nsentiment +20\S+Z\n$/);

    // The training script: the SDK with an API key, as a job on a GPU machine would log.
    const key = await json('keys', 'create', 'trainer', '--scope', 'models:write');
    const sdk = new MeridianClient({ baseUrl: stack.cp.url, apiKey: key.secret });
    const [experiment] = await json('experiments', 'list');
    const startRun = async (experimentId: string, name: string) =>
      (await sdk.request('post', '/v1/experiments/{id}/runs', { path: { id: experimentId }, body: { name } }))
        .id;
    const runId = await startRun(experiment.id, 'baseline');
    const path = { id: runId };
    const params = [
      { key: 'lr', value: '0.01' },
      { key: 'epochs', value: '3' },
    ];
    await sdk.request('post', '/v1/runs/{id}/params', { path, body: { params } });
    const losses = [0.9, 0.5, 0.3123456];
    const metrics = [
      ...losses.map((value, step) => ({ key: 'loss', value, step })),
      { key: 'acc', value: 0.91, step: 2 },
    ];
    await sdk.request('post', '/v1/runs/{id}/metrics', { path, body: { metrics } });
    await sdk.request('put', '/v1/runs/{id}/tags', { path, body: { tags: { team: 'nlp' } } });
    await sdk.request('patch', '/v1/runs/{id}', { path, body: { status: 'finished' } });
    await startRun(experiment.id, 'wider');

    // Newest first, names not ids, the latest value of each metric in one column.
    const list = ok(await asGrace('runs', 'list', 'sentiment')).stdout;
    expect(list).toMatch(
      /^NAME +STATUS +STARTED +ENDED +METRICS\nwider +running +20\S+Z\nbaseline +finished +20\S+Z +20\S+Z +acc=0\.91, loss=0\.3123\n$/,
    );
    const finished = await json('runs', 'list', 'sentiment', '--status', 'finished');
    expect(finished.map((r: { id: string }) => r.id)).toEqual([runId]);

    const show = ok(await asGrace('runs', 'show', 'baseline')).stdout;
    expect(show).toMatch(
      new RegExp(`^baseline \\(${runId}\\) in sentiment: finished\\nstarted 20\\S+Z, ended 20`),
    );
    for (const line of [/^epochs +3$/m, /^lr +0\.01$/m, /^team +nlp$/m, /^acc +0\.91 +2 +20\S+Z$/m])
      expect(show).toMatch(line);
    expect(show).toMatch(/^loss +0\.3123456 +2 +20\S+Z$/m);
    expect(await json('runs', 'show', runId)).toMatchObject({
      id: runId,
      params: { lr: '0.01', epochs: '3' },
    });

    const history = ok(await asGrace('runs', 'metric', 'baseline', 'loss')).stdout;
    expect(history).toMatch(/^STEP +VALUE +TIME\n0 +0\.9 +20\S+Z\n1 +0\.5 +20\S+Z\n2 +0\.3123456 +20\S+Z\n$/);
    const points = await json('runs', 'metric', runId, 'loss');
    expect(points.map((p: { value: number }) => p.value)).toEqual(losses);

    // A name two runs share is refused with their ids; --experiment says which one is meant.
    ok(await asGrace('experiments', 'create', 'sentiment-v2'));
    const [v2] = await json('experiments', 'list');
    const twin = await startRun(v2.id, 'baseline');
    const ambiguous = await asGrace('runs', 'show', 'baseline');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(
      /^meridian: 2 runs are named baseline \(.+\): give the id of the one you mean\n$/,
    );
    for (const id of [runId, twin]) expect(ambiguous.stderr).toContain(id);
    expect(ok(await asGrace('runs', 'show', 'baseline', '-e', 'sentiment-v2')).stdout).toContain(
      `baseline (${twin}) in sentiment-v2: running\n`,
    );

    // Mistakes: one line each, with the documented exit codes.
    const refused = async (args: string[]) => {
      const r = await asGrace(...args);
      return [r.code, r.stderr];
    };
    expect(await refused(['runs', 'metric', runId, 'f1'])).toEqual([
      1,
      'meridian: Run baseline has no metric f1 (its metrics: acc, loss)\n',
    ]);
    expect(await refused(['runs', 'list', 'sentiment', '--status', 'done'])).toEqual([
      2,
      'meridian: --status is one of running, finished, failed, killed\n',
    ]);
    expect(await refused(['runs', 'list', 'nope'])).toEqual([
      1,
      'meridian: No experiment named nope (meridian experiments list)\n',
    ]);

    expect(ok(await asGrace('experiments', 'delete', 'sentiment')).stdout).toBe(
      'Deleted experiment sentiment and its runs\n',
    );
    expect((await json('experiments', 'list')).map((e: { name: string }) => e.name)).toEqual([
      'sentiment-v2',
    ]);
  }, 60_000);
});
