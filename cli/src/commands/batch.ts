import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { collect, errorFromResponse, ForbiddenError, type MeridianClient, type Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, type Context, EXIT, table } from '../context.js';
import { saveUrl } from '../download.js';
import { wholeNumber } from '../numbers.js';
import { requireDeployment } from '../resolve.js';

type BatchJob = Schema<'BatchJob'>;
const ENDED = ['completed', 'failed', 'cancelled', 'expired'];

const LINE_FORMAT = `
Each line of FILE is one request, as in OpenAI's Batch API (custom_id: 1 to 512 characters, unique in the file):
  {"custom_id": "img-1", "method": "POST", "url": "/v2/models/<deployment>/infer", "body": {"inputs": [...]}}
  {"custom_id": "img-2", "method": "POST", "url": "/v1/deployments/<deployment>/predict", "body": {"inputs": {...}}}
A line that is not valid goes to the error file with its line number; the others run. With --wait it exits 4
unless the job completed.`;

function summary(job: BatchJob): string {
  const { total, completed, failed } = job.counts;
  const paused = job.pausedReason ? ` (paused: ${job.pausedReason})` : '';
  // Why it waits, in words: a deployment that cannot start says so here long before the job ends.
  const waiting = job.statusReason ? `\n  ${job.statusReason}` : '';
  const error = job.error ? `\n  ${job.error.code}: ${job.error.message}` : '';
  const faults = (job.error?.faults ?? []).map((f) => `\n  line ${f.line}: ${f.message}`).join('');
  return `${job.id} ${job.status}${paused} on ${job.deployment.name}: ${completed}/${total} answered, ${failed} failed, $${job.costUsd}${waiting}${error}${faults}`;
}

/** Streams a local JSONL file to POST /v1/files; resolves with the stored file's id. */
async function uploadInput(ctx: Context, client: MeridianClient, path: string): Promise<string> {
  const size = (await stat(path).catch(() => undefined))?.size;
  if (size === undefined) throw new CliError(`No such file: ${path}`);
  const name =
    basename(path)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/^[^A-Za-z0-9]+/, '') || 'input.jsonl';
  const res = await client.authorized(
    `${client.baseUrl}/v1/files?purpose=batch&filename=${encodeURIComponent(name)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit,
  );
  if (!res.ok) throw await errorFromResponse(res);
  const file = (await res.json()) as Schema<'File'>;
  ctx.note(`Uploaded ${path} as ${file.id} (${file.bytes} bytes)`);
  return file.id;
}

/** Notes each change of the job's state until it ends; the ended state is the command's result, printed once. */
async function waitForEnd(ctx: Context, client: MeridianClient, id: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const job = await client.request('get', '/v1/batch-jobs/{id}', { path: { id } });
    if (ENDED.includes(job.status)) return job;
    const line = summary(job);
    if (line !== last) ctx.note(line);
    last = line;
    if (Date.now() > deadline)
      throw new CliError(`Job ${id} has not ended after ${timeoutMs / 1000} s`, EXIT.waitTimedOut);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Refuses, before anything is fetched, where the files could not both be saved: one path for both (the error
 * file replaced the output, the job's answers lost), a folder, or a folder that does not exist (each was told
 * as a download cut short, to run again).
 */
async function checkTargets(output: string, errors: string): Promise<void> {
  if (resolve(output) === resolve(errors))
    throw new CliError(`-o and -e name the same file (${output}): give each its own`, EXIT.usage);
  for (const [flag, path] of [
    ['-o', output],
    ['-e', errors],
  ] as const) {
    if ((await stat(path).catch(() => undefined))?.isDirectory())
      throw new CliError(`${flag} ${path} is a folder: give a file path`);
    if (!(await stat(dirname(resolve(path))).catch(() => undefined))?.isDirectory())
      throw new CliError(`${flag} ${path}: there is no folder ${dirname(path)} to save it in`);
  }
}

async function download(url: string | null, path: string): Promise<boolean> {
  if (url === null) return false;
  await saveUrl(url, path);
  return true;
}

/** The API's completion window: 1 to 5 digits and m, h or d, from 1 minute to 7 days. */
function checkWindow(text: string): void {
  const match = /^([1-9][0-9]{0,4})([mhd])$/.exec(text);
  const seconds = match ? Number(match[1]) * { m: 60, h: 3600, d: 86_400 }[match[2] as 'm' | 'h' | 'd'] : 0;
  if (seconds < 60 || seconds > 7 * 86_400)
    throw new CliError(`--window wants a duration such as 24h, 90m or 7d, from 1m to 7d, not ${text}`, 2);
}

interface CreateOptions {
  deployment: string;
  window?: string;
  concurrency?: string;
  wait?: boolean;
  timeout?: string;
}

/**
 * A deployment name that does not exist is refused before the input is uploaded (it may be large, and would
 * stay stored for nothing). A key allowed to predict but not to read deployments cannot check: the server
 * then answers for it when the job is created.
 */
async function refuseUnknownDeployment(client: MeridianClient, name: string): Promise<void> {
  try {
    await requireDeployment(client, name);
  } catch (err) {
    if (!(err instanceof ForbiddenError)) throw err;
  }
}

export function batchCommands(program: Command): void {
  const batch = program.command('batch').description('Asynchronous batch predictions over JSONL files');
  batch
    .command('create <file>')
    .description(
      'Run every line of a JSONL file (a local path, or a file_… id already uploaded) on a deployment',
    )
    .requiredOption('-d, --deployment <name>', 'the deployment every line calls')
    .option('--window <duration>', 'completion window: 90m, 24h, 7d', '24h')
    .option('--concurrency <n>', 'lines in flight at once (1 to 32)')
    .option('--wait', 'show progress until the job ends')
    .option('--timeout <seconds>', 'how long --wait waits', '86400')
    .addHelpText('after', LINE_FORMAT)
    .action(
      action(async (ctx, file: string, opts: CreateOptions) => {
        // Checked as the API checks them, before the upload: the input may be gigabytes.
        const maxConcurrency =
          opts.concurrency === undefined ? undefined : wholeNumber(opts.concurrency, '--concurrency', 1, 32);
        if (opts.window !== undefined) checkWindow(opts.window);
        // Checked before the upload: a --timeout that is not a number would otherwise wait forever.
        const timeoutMs = wholeNumber(opts.timeout ?? '86400', '--timeout', 1, 8 * 86_400) * 1000;
        const client = await ctx.client();
        await refuseUnknownDeployment(client, opts.deployment);
        const inputFileId = /^file_[0-9a-z]{26}$/.test(file) ? file : await uploadInput(ctx, client, file);
        const job = await client.request('post', '/v1/batch-jobs', {
          body: {
            deployment: opts.deployment,
            inputFileId,
            ...(opts.window ? { completionWindow: opts.window } : {}),
            ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
          },
        });
        ctx.note(`Created batch job ${job.id}`);
        if (!opts.wait) return ctx.print(job, () => summary(job));
        const ended = await waitForEnd(ctx, client, job.id, timeoutMs);
        ctx.print(ended, () => summary(ended));
        if (ended.counts.completed + ended.counts.failed > 0)
          ctx.note(`Its output and error files: meridian batch download ${ended.id}`);
        // A script that waited learns from the exit code alone whether every line was run.
        if (ended.status !== 'completed')
          throw new CliError(`Batch job ${ended.id} ${ended.status}`, EXIT.batchNotCompleted);
      }),
    );
  batch
    .command('list')
    .description('Batch jobs of the organisation, newest first')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/batch-jobs'));
        ctx.print(items, () =>
          table(
            ['ID', 'DEPLOYMENT', 'STATUS', 'DONE', 'FAILED', 'TOTAL', 'COST', 'CREATED'],
            items.map((j) => [
              j.id,
              j.deployment.name,
              j.status,
              j.counts.completed,
              j.counts.failed,
              j.counts.total,
              `$${j.costUsd}`,
              j.createdAt,
            ]),
          ),
        );
      }),
    );
  batch
    .command('get <id>')
    .description('A job’s status, counts and cost so far')
    .action(
      action(async (ctx, id: string) => {
        const job = await (await ctx.client()).request('get', '/v1/batch-jobs/{id}', { path: { id } });
        ctx.print(job, () => summary(job));
      }),
    );
  batch
    .command('cancel <id>')
    .description('Start no new line; what was answered is kept for download')
    .action(
      action(async (ctx, id: string) => {
        const job = await (await ctx.client()).request('post', '/v1/batch-jobs/{id}/cancel', {
          path: { id },
        });
        ctx.print(job, () => summary(job));
      }),
    );
  batch
    .command('download <id>')
    .description('Save the output and error files of an ended job')
    .option('-o, --output <path>', 'where the output file goes (default <id>-output.jsonl)')
    .option('-e, --errors <path>', 'where the error file goes (default <id>-errors.jsonl)')
    .action(
      action(async (ctx, id: string, opts: { output?: string; errors?: string }) => {
        const output = opts.output ?? `${id}-output.jsonl`;
        const errors = opts.errors ?? `${id}-errors.jsonl`;
        await checkTargets(output, errors);
        const client = await ctx.client();
        const urls = await client.request('get', '/v1/batch-jobs/{id}/download-urls', {
          path: { id },
          query: { expiresIn: 300 },
        });
        if (urls.output === null && urls.errors === null)
          throw new CliError(`Job ${id} has no files yet: it has not ended, or failed at validation`);
        const saved = [
          (await download(urls.output, output)) ? output : undefined,
          (await download(urls.errors, errors)) ? errors : undefined,
        ].filter((p): p is string => p !== undefined);
        ctx.print({ saved }, () => saved.map((p) => `Saved ${p}`).join('\n'));
      }),
    );
}
