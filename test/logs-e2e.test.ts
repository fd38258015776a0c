import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeBroadcastAdd } from '../gpu-agent/src/onnx/testing/broadcast-add.js';
import { launchChromium } from './helpers/chromium.js';
import { buildCli, type CliResult, collect } from './helpers/cli.js';
import { type Stack, startStack } from './helpers/stack.js';

type LogLine = { time: string; seq: number; replica: string; agentId: string; stream: string; line: string };
type LogPage = {
  lines: LogLine[];
  replicas: { replica: string; phase: string; endedAt?: string; error?: string }[];
};

/** How long a removed replica's lines are kept by the agent and listed by the control plane, here. */
const AGENT_ENDED_WINDOW_S = 12;
const CP_ENDED_WINDOW_S = 16;
/** Shorter than the default 15 s, so the heartbeat test does not wait out the default. */
const HEARTBEAT_S = 3;

/**
 * Workload logs through every tier: the agent keeps each workload's lines, the control plane reads them from
 * it (signed) and merges the replicas, the CLI prints them. The model is y = x + [1,2,3] with x[batch, n]:
 * n = 5 passes the signature check and fails inside onnxruntime, a failure caused by the caller's input.
 */
describe('workload logs', () => {
  let stack: Stack;
  let cli: Awaited<ReturnType<typeof buildCli>>;
  let home = '';
  const env = (who = 'ada') => ({
    HOME: join(home, who),
    MERIDIAN_CONFIG_DIR: join(home, who, 'config'),
    MERIDIAN_API_URL: stack.cp.url,
    MERIDIAN_EDGE_URL: stack.edge.url,
  });
  const ok = (r: CliResult) => {
    expect(r.code, `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
    return r;
  };
  const tokenOf = async (who: string) => {
    const file = join(home, who, 'config', 'credentials.json');
    const creds = JSON.parse(await readFile(file, 'utf8')) as {
      profiles: { default: { tokens: { accessToken: string } } };
    };
    return creds.profiles.default.tokens.accessToken;
  };
  const api = async (who: string, path: string) => {
    const res = await fetch(`${stack.cp.url}${path}`, {
      headers: { authorization: `Bearer ${await tokenOf(who)}` },
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  /** A prediction onnxruntime cannot run (n = 5): answers 400 with the request id it is logged under. */
  const badPrediction = async () => {
    const res = await fetch(`${stack.edge.url}/v2/models/adder/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenOf('ada')}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }],
      }),
    });
    const body = (await res.json()) as { error: string; requestId?: string };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error).toMatch(/onnxruntime/);
    return body.requestId ?? res.headers.get('x-request-id') ?? '';
  };
  let deploymentId = '';

  beforeAll(async () => {
    // Short windows so a test sees a removed replica's lines kept, then let go: the agent's first, then the
    // control plane's; and a short autoscaler window, so an idle deployment reaches zero in seconds.
    stack = await startStack(
      'logs-e2e',
      {
        MERIDIAN_ENDED_REPLICA_LOGS_SECONDS: String(CP_ENDED_WINDOW_S),
        MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: '4',
        MERIDIAN_AUTOSCALER_PANIC_WINDOW_SECONDS: '2',
        MERIDIAN_LOG_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
      },
      {},
      { MERIDIAN_AGENT_ENDED_LOG_RETENTION_SECONDS: String(AGENT_ENDED_WINDOW_S) },
    );
    home = join(stack.dir, 'home');
    for (const who of ['ada', 'eve']) await mkdir(join(home, who), { recursive: true });
    cli = await buildCli(() => env());
    const register = (who: string) =>
      cli.run(['register', '--email', `${who}@example.com`, '--name', who, '--password-stdin'], {
        input: 'correct horse battery staple\n',
        env: env(who),
      });
    ok(await register('ada'));
    ok(await register('eve'));
    const model = await writeBroadcastAdd(join(stack.dir, 'adder.onnx'));
    ok(await cli.run(['models', 'push', model, '--name', 'adder']));
    ok(await cli.run(['deploy', 'adder', '--wait', '--timeout', '90']));
    deploymentId = (
      JSON.parse(ok(await cli.run(['deployments', 'get', 'adder', '--json'])).stdout) as { id: string }
    ).id;
  }, 240_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(stack.logs());
  });

  afterAll(async () => {
    await cli?.remove();
    await stack?.stop();
  });

  it('shows an onnxruntime failure caused by a bad input with its request id', async () => {
    const requestId = await badPrediction();
    expect(requestId).not.toBe('');
    const page = JSON.parse(ok(await cli.run(['deployments', 'logs', 'adder', '--json'])).stdout) as LogPage;
    const failure = page.lines.find((l) => l.line.includes(requestId));
    expect(failure, JSON.stringify(page.lines.slice(-5))).toBeDefined();
    expect(failure?.line).toMatch(/failed \(400\): onnxruntime: .*broadcast/);
    expect(failure).toMatchObject({ stream: 'agent', replica: expect.stringMatching(/^wl_/) });
    // The replica's load came before it, in the same log.
    expect(page.lines.some((l) => /^ready in \d+ ms$/.test(l.line))).toBe(true);
    // The owner reads the names they gave (deployment, version number), the ids only beside them.
    const start = page.lines.find((l) => l.line.startsWith('starting '));
    expect(start?.line).toMatch(
      /^starting adder v1 \(onnx model, \d+ bytes; version mdv_\w+\) on the onnx runtime$/,
    );
    const human = ok(await cli.run(['deployments', 'logs', 'adder', '--tail', '3'])).stdout;
    expect(human).toContain(requestId);
    expect(human.trim().split('\n')).toHaveLength(3);
    // No lines asked for: nothing printed, not a blank line.
    expect(ok(await cli.run(['deployments', 'logs', 'adder', '--tail', '0'])).stdout).toBe('');
  }, 60_000);

  it('shows a line the workload writes within 2 s with `logs -f`', async () => {
    const child = cli.spawn(['deployments', 'logs', 'adder', '-f', '--tail', '5']);
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    const exited = collect(child);
    await expect.poll(() => stdout, { timeout: 20_000, interval: 50 }).toMatch(/ready in \d+ ms/);
    const sent = Date.now();
    const requestId = await badPrediction();
    await expect.poll(() => stdout, { timeout: 2_000, interval: 20 }).toContain(requestId);
    console.info(`logs -f showed the failed request ${Date.now() - sent} ms after it was sent`);
    child.kill('SIGINT');
    const result = await exited;
    expect(result.code, result.stderr).toBe(0);
  }, 60_000);

  it('follows as Server-Sent Events: line events with their replica, and heartbeats while quiet', async () => {
    const stop = new AbortController();
    const res = await fetch(`${stack.cp.url}/v1/deployments/${deploymentId}/logs?follow=true&tail=1`, {
      headers: { authorization: `Bearer ${await tokenOf('ada')}` },
      signal: stop.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += decoder.decode((await reader.read()).value, { stream: true });
    };
    await until(/event: line\ndata: \{.*"replica":"wl_\w+".*\}\nid: wl_\w+:\d+\n\n/);
    const quietSince = Date.now();
    await until(/: heartbeat/);
    // The configured interval, not one the stream happened to send early.
    expect(Date.now() - quietSince).toBeLessThanOrEqual(HEARTBEAT_S * 1000 + 1_000);
    stop.abort();
  }, 40_000);

  it('answers 404 to another organisation’s user, as for a deployment that does not exist', async () => {
    const theirs = await api('eve', `/v1/deployments/${deploymentId}/logs`);
    expect(theirs.status).toBe(404);
    expect(theirs.json).toMatchObject({ error: { code: 'not_found' } });
    const followed = await api('eve', `/v1/deployments/${deploymentId}/logs?follow=true`);
    expect(followed.status).toBe(404);
    const viaCli = await cli.run(['deployments', 'logs', 'adder'], { env: env('eve') });
    expect(viaCli.code).not.toBe(0);
    expect(viaCli.stdout).toBe('');
  }, 30_000);

  it.each([
    ['tail=-1', 'tail'],
    ['tail=100000', 'tail'],
    ['tail=ten', 'tail'],
    ['since=yesterday', 'since'],
    ['since=2026-13-45T99:00:00', 'since'],
    ['follow=maybe', 'follow'],
  ])('answers 400 naming the field for %s', async (query, field) => {
    const res = await api('ada', `/v1/deployments/${deploymentId}/logs?${query}`);
    expect(res.status).toBe(400);
    const details = (res.json.error as { details: { path: string }[] }).details;
    expect(details.map((d) => d.path)).toContain(field);
  });

  it('reads lines since a time, and the CLI refuses a bad --tail as usage', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const later = await api('ada', `/v1/deployments/${deploymentId}/logs?since=${future}`);
    expect(later.status).toBe(200);
    expect(later.json.lines).toEqual([]);
    const recent = await api('ada', `/v1/deployments/${deploymentId}/logs?since=1h&tail=1`);
    expect((recent.json.lines as unknown[]).length).toBe(1);
    const usage = await cli.run(['deployments', 'logs', 'adder', '--tail', '-5']);
    expect(usage.code).toBe(2);
  }, 30_000);

  it('shows a notebook’s Jupyter server output, start-up and a kernel start, without its token', async () => {
    // --wait returns once the server is up, with the link that opens it.
    const created = ok(await cli.run(['notebooks', 'create', 'lab', '--wait', '--timeout', '90', '--json']));
    const link = JSON.parse(created.stdout) as { id: string; status: string; url: string };
    expect(link.status).toBe('running');
    expect(link.url).toMatch(/\/notebooks\/nb_\w+\/\?access_token=/);
    type Notebook = { id: string; status: string; token?: string; endpoint?: string | null };
    const notebook = (await api('ada', `/v1/notebooks/${link.id}`)).json as unknown as Notebook;
    expect(notebook.status, JSON.stringify(notebook)).toBe('running');
    const lines = async () =>
      (
        JSON.parse(
          ok(await cli.run(['notebooks', 'logs', 'lab', '--json', '--tail', '10000'])).stdout,
        ) as LogPage
      ).lines;
    await expect
      .poll(async () => (await lines()).map((l) => l.line).join('\n'), { timeout: 20_000, interval: 500 })
      .toMatch(/is running at|Serving notebooks from|Jupyter Server .* is running/);
    const kernel = await fetch(`${notebook.endpoint}api/kernels`, {
      method: 'POST',
      headers: { authorization: `token ${notebook.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(kernel.status).toBe(201);
    const { id } = (await kernel.json()) as { id: string };
    await expect
      .poll(async () => (await lines()).map((l) => l.line).join('\n'), { timeout: 20_000, interval: 500 })
      .toMatch(new RegExp(`Kernel started: ${id}`));
    expect(JSON.stringify(await lines())).not.toContain(notebook.token ?? 'no token');
    expect((await lines()).map((l) => l.line).join('\n')).toMatch(
      new RegExp(`^starting notebook lab \\(${notebook.id}\\) on the \\w+ runtime$`, 'm'),
    );
    // Another org's user: as if it did not exist.
    expect((await api('eve', `/v1/notebooks/${notebook.id}/logs`)).status).toBe(404);
  }, 150_000);

  it('opens the notebook with the link `notebooks open` prints, as a browser follows it, and starts it again with --wait', async () => {
    const printed = ok(await cli.run(['notebooks', 'open', 'lab']));
    expect(printed.stderr).toMatch(/before \d\d:\d\d UTC: the link carries your login/);
    const link = printed.stdout.trim();
    // The user's login, which the edge trades for a cookie; the Jupyter server's own token stays out of it.
    expect(new URL(link).searchParams.get('access_token')).toBeTruthy();
    expect(new URL(link).searchParams.has('token')).toBe(false);
    // In a browser: the link is on the notebook's own origin (nb-<id>.notebooks.localhost), which browsers
    // resolve to loopback by themselves.
    const browser = await launchChromium();
    /** Opens `url` in a new browser session: its status, where it landed, and the cookies it left. */
    const follow = async (url: string) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const status = (await page.goto(url))?.status();
      return { status, page, cookies: (await context.cookies()).map((c) => c.name) };
    };
    try {
      const opened = await follow(link);
      expect(opened.status).toBe(200);
      // The token left the address for a cookie; Jupyter's own redirect to its file tree followed.
      expect(new URL(opened.page.url()).search).toBe('');
      expect(await opened.page.title()).toMatch(/Home|Jupyter/);
      expect(opened.cookies).toContain('meridian_notebook_session');
      // Another org's user has no such notebook; with --json, a script gets the link and when it ends.
      const other = await cli.run(['notebooks', 'open', 'lab'], { env: env('eve') });
      expect(other.code).toBe(1);
      expect(other.stderr).toMatch(/No notebook named lab/);
      const json = JSON.parse(ok(await cli.run(['notebooks', 'open', 'lab', '--json'])).stdout) as {
        url: string;
        expiresAt: number;
      };
      expect(json.expiresAt).toBeGreaterThan(Date.now() + 60_000);
      expect((await follow(json.url)).status).toBe(200);

      // Stopped: the link still prints, with what starts it, and --wait refuses rather than wait for nothing.
      ok(await cli.run(['notebooks', 'stop', 'lab']));
      expect(ok(await cli.run(['notebooks', 'open', 'lab'])).stderr).toMatch(
        /\nlab is (stopping|stopped): `meridian notebooks start lab --wait` starts it\.\n$/,
      );
      const stopped = await cli.run(['notebooks', 'open', 'lab', '--wait']);
      expect([stopped.code, stopped.stderr]).toEqual([
        1,
        expect.stringMatching(
          /^meridian: Notebook lab is (stopping|stopped): `meridian notebooks start lab --wait` starts it\n$/,
        ),
      ]);
      const started = ok(await cli.run(['notebooks', 'start', 'lab', '--wait', '--timeout', '90']));
      expect(started.stdout).toMatch(/\/notebooks\/nb_\w+\/\?access_token=/);
      expect((await follow(started.stdout.trim())).status).toBe(200);
    } finally {
      await browser.close();
    }
  }, 150_000);
  it('keeps a replica’s lines after it is scaled away, listed as ended, until the retention window passes', async () => {
    const requestId = await badPrediction();
    const page = async () =>
      (await api('ada', `/v1/deployments/${deploymentId}/logs?tail=10000`)).json as unknown as LogPage;
    const served = (await page()).lines.find((l) => l.line.includes(requestId))?.replica ?? '';
    expect(served).toMatch(/^wl_/);
    ok(
      await cli.run([
        'deploy',
        'adder',
        '--min',
        '0',
        '--scale-to-zero-after',
        '1s',
        '--scale-down-delay',
        '1s',
      ]),
    );
    // The update is a new revision: a rollout replaces the replica, and the new one then goes to zero.
    const allEnded = (p: LogPage) => p.replicas.length > 0 && p.replicas.every((r) => r.phase === 'ended');
    await expect.poll(async () => allEnded(await page()), { timeout: 60_000, interval: 250 }).toBe(true);
    const ended = await page();
    expect(ended.replicas).toContainEqual(
      expect.objectContaining({ replica: served, phase: 'ended', endedAt: expect.any(String) }),
    );
    expect(ended.replicas.filter((r) => r.error)).toEqual([]);
    // The failed request and the agent's stop, in order, from the replica that is gone.
    const failure = ended.lines.findIndex((l) => l.line.includes(requestId));
    expect(ended.lines[failure]).toMatchObject({ replica: served, stream: 'agent' });
    expect(ended.lines.slice(failure).some((l) => l.replica === served && l.line === 'stopped')).toBe(true);
    const human = ok(await cli.run(['deployments', 'logs', 'adder']));
    expect(human.stdout).toContain(requestId);
    expect(human.stderr).toMatch(
      /\(no replica is running: scaled to zero: the lines are those of (a replica|\d replicas) removed lately\)/,
    );

    // Past the agent's window their lines are let go: the replicas are still listed, with why they show nothing.
    await expect
      .poll(async () => (await page()).replicas.map((r) => r.error), {
        timeout: AGENT_ENDED_WINDOW_S * 1000 + 10_000,
        interval: 500,
      })
      .toEqual(ended.replicas.map(() => 'its agent no longer holds its lines'));
    expect((await page()).lines).toEqual([]);
    // Past the control plane's, it is no longer listed, and the CLI says why there is nothing.
    await expect
      .poll(async () => (await page()).replicas, {
        timeout: CP_ENDED_WINDOW_S * 1000 + 10_000,
        interval: 500,
      })
      .toEqual([]);
    const none = ok(await cli.run(['deployments', 'logs', 'adder']));
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/scaled to zero, and no replica was removed lately: no lines to show/);
  }, 150_000);
});
