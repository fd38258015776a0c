import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Captured, runCaptured } from './main-captured.test-helper.js';

/** One request the fake control plane received: its method, path (with query) and JSON body. */
export interface Received {
  method: string;
  path: string;
  body: unknown;
}

/** What the fake answers `METHOD /path` (the path without its query): a JSON body, 200 unless `status`. */
export type Answers = Record<string, unknown | { status: number; body: unknown }>;

/**
 * A control plane that answers canned JSON and records each request, so a test can run the CLI in this
 * process against it and see exactly what a command sent. The CLI uses MERIDIAN_TOKEN, no stored login.
 */
export async function fakeApi() {
  const received: Received[] = [];
  let answers: Answers = {};
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      raw += chunk;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ method: req.method ?? '', path, body: raw ? jsonOrText(raw) : undefined });
      const key = `${req.method} ${path.split('?')[0]}`;
      const answer = answers[key];
      const { status, body } =
        answer === undefined
          ? { status: 404, body: { error: { code: 'not_found', message: `no fake for ${key}` } } }
          : typeof answer === 'object' && answer !== null && 'status' in answer && 'body' in answer
            ? (answer as { status: number; body: unknown })
            : { status: 200, body: answer };
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), 'cli-fake-api-'));

  return {
    received,
    /** The API's URL and the CLI's config directory, for a test that prepares what a command finds there. */
    url,
    configDir: dir,
    /** Sets what the next commands are answered, and forgets what was received. */
    answer(next: Answers) {
      answers = next;
      received.length = 0;
    },
    /** Runs `meridian args…` in this process against the fake, with what it printed. */
    run(args: string[]): Promise<Captured> {
      return runCaptured(args, {
        MERIDIAN_CONFIG_DIR: dir,
        MERIDIAN_API_URL: url,
        MERIDIAN_TOKEN: 'mk_test_fake',
      });
    },
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A request body as JSON, or as the text it is when it is not JSON (a file upload). */
function jsonOrText(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
