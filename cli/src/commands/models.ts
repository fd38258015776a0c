import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import {
  ConflictError,
  collect,
  type MeridianClient,
  MeridianError,
  modelFileRefusal,
  NotFoundError,
  type Schema,
  type UploadProgress,
  uploadModelVersion,
} from '@meridian/sdk';
import { fileSource } from '@meridian/sdk/node';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { configDir, UploadCheckpoints } from '../config.js';
import { action, CliError, type Context, table } from '../context.js';
import { versionNumber, wholeNumber } from '../numbers.js';
import { findModel, requireModel } from '../resolve.js';
import { requireRunRef } from './runs.js';

const MiB = 1024 * 1024;
type Model = Schema<'Model'>;

interface PushOptions {
  name: string;
  description?: string;
  run?: string;
  partSize?: string;
  concurrency?: string;
}

/** The model named `name`, created if none is; `created` says whether this call made it. */
async function ensureModel(ctx: Context, client: MeridianClient, name: string) {
  const found = await findModel(client, name);
  if (found) return { model: found, created: false };
  ctx.note(`Creating model ${name}`);
  return { model: await client.request('post', '/v1/models', { body: { name } }), created: true };
}

/**
 * Deletes a model this push created once the server refused its first file (a 4xx: not a valid model, too
 * large, …): an empty model would hold a plan's model slot. A model that existed before is left alone, and so
 * is one whose upload broke off (a network error, a 5xx), which the next push resumes.
 */
async function undoCreatedModel(
  ctx: Context,
  client: MeridianClient,
  model: Model,
  err: unknown,
): Promise<boolean> {
  if (!(err instanceof MeridianError) || err.status >= 500) return false;
  try {
    await client.request('delete', '/v1/models/{id}', { path: { id: model.id } });
    ctx.note(`Deleted model ${model.name} again: its first upload was refused`);
    return true;
  } catch (cleanup) {
    const why = cleanup instanceof Error ? cleanup.message : String(cleanup);
    ctx.note(`Model ${model.name} was left without a version (deleting it failed: ${why})`);
    return false;
  }
}

const mib = (n: number) => (n / MiB).toFixed(1);

/** A progress bar on a terminal; elsewhere (a log, captured output) a line at each further 10%. */
function progressBar(ctx: Context, totalBytes: number) {
  if (ctx.options.json) return { update: (_: UploadProgress) => {}, stop: () => {} };
  if (!process.stderr.isTTY) return progressLines(ctx, totalBytes);
  const bar = new SingleBar(
    { format: 'uploading [{bar}] {percentage}% | {done}/{total_mib} MiB{resumed}', hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(totalBytes, 0, { done: mib(0), total_mib: mib(totalBytes), resumed: '' });
  return {
    update: (p: UploadProgress) =>
      bar.update(p.doneBytes, {
        done: mib(p.doneBytes),
        resumed: p.resumedBytes > 0 ? ` (${mib(p.resumedBytes)} MiB already stored)` : '',
      }),
    stop: () => bar.stop(),
  };
}

/** Progress as plain lines: one per 10% step reached, so a log of a 2 GiB push stays a dozen lines long. */
function progressLines(ctx: Context, totalBytes: number) {
  let shown = -1;
  return {
    update: (p: UploadProgress) => {
      const step = totalBytes === 0 ? 10 : Math.floor((p.doneBytes / totalBytes) * 10);
      if (step <= shown) return;
      shown = step;
      const resumed = p.resumedBytes > 0 ? ` (${mib(p.resumedBytes)} MiB already stored)` : '';
      ctx.note(`uploading ${step * 10}% | ${mib(p.doneBytes)}/${mib(totalBytes)} MiB${resumed}`);
    },
    stop: () => {},
  };
}

// A part is 5 MiB to 5 GiB (S3's bounds); more parts at once than this only queue at the storage server.
const MAX_PART_MIB = 5 * 1024;
const MAX_CONCURRENCY = 16;

async function push(ctx: Context, file: string, opts: PushOptions) {
  // Read before anything is sent: `--concurrency abc` started no upload worker, so the push asked the server
  // to complete an upload of no parts (400 "parts: Too small"), and `--part-size 1` was quietly taken as 5.
  const partMiB =
    opts.partSize === undefined ? undefined : wholeNumber(opts.partSize, '--part-size', 5, MAX_PART_MIB);
  const concurrency =
    opts.concurrency === undefined
      ? undefined
      : wholeNumber(opts.concurrency, '--concurrency', 1, MAX_CONCURRENCY);
  const path = resolve(file);
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) throw new CliError(`${file} is a folder: give the model file`);
  if (!info?.isFile()) throw new CliError(`No such file: ${file}`);
  // The server's 415 in its words, before a model is created or a byte sent: it came after the whole upload.
  const refusal = modelFileRefusal(basename(path));
  if (refusal !== undefined) throw new CliError(refusal);
  const client = await ctx.client();
  // Before the model is created: a run that cannot be found leaves nothing behind.
  const run = opts.run ? await requireRunRef(client, opts.run) : undefined;
  const { model, created } = await ensureModel(ctx, client, opts.name);
  const checkpoints = new UploadCheckpoints(configDir());
  const key = createHash('sha256')
    .update(JSON.stringify([client.baseUrl, model.id, path, info.size, info.mtimeMs]))
    .digest('hex')
    .slice(0, 32);
  let resume = await checkpoints.load(key);
  if (resume) {
    // The upload may have been completed or discarded since: then start again. A discarded upload's number
    // goes to the next upload, so a version of that number with another id is not this file's.
    const found = await client
      .request('get', '/v1/models/{id}/versions/{version}', {
        path: { id: model.id, version: String(resume.version) },
      })
      .catch((err: unknown) => (err instanceof NotFoundError ? undefined : Promise.reject(err)));
    const version = resume.versionId === undefined || found?.id === resume.versionId ? found : undefined;
    if (version?.status === 'ready' && version.sizeBytes === info.size) {
      // Completed on the server, but its answer never came (the push was stopped or cut off while the server
      // verified the file): this file (same path, size and mtime) is that version, not one to upload again.
      await checkpoints.remove(key);
      const upload = { resumedBytes: info.size, sentBytes: 0 };
      ctx.print(
        { ...version, upload },
        () =>
          `Pushed ${model.name} version ${version.version} already (${version.sizeBytes} bytes, sha256 ${version.sha256}): ` +
          'its upload completed after the last push stopped',
      );
      return;
    }
    if (version?.status !== 'uploading') {
      await checkpoints.remove(key);
      resume = undefined;
    } else ctx.note(`Resuming the upload of version ${resume.version}`);
  }
  const bar = progressBar(ctx, info.size);
  let progress: UploadProgress | undefined;
  let version: Awaited<ReturnType<typeof uploadModelVersion>>;
  try {
    version = await uploadModelVersion(client, {
      modelId: model.id,
      source: await fileSource(path),
      ...(opts.description ? { description: opts.description } : {}),
      ...(run ? { runId: run.id } : {}),
      ...(resume ? { resume } : {}),
      ...(partMiB ? { partSize: partMiB * MiB } : {}),
      ...(concurrency ? { concurrency } : {}),
      onCheckpoint: (checkpoint) => checkpoints.save(key, checkpoint),
      onProgress: (p) => {
        progress = p;
        bar.update(p);
      },
    });
  } catch (err) {
    bar.stop();
    if (created && (await undoCreatedModel(ctx, client, model, err))) await checkpoints.remove(key);
    throw err;
  }
  bar.stop();
  await checkpoints.remove(key);
  // TypeScript cannot see the callback's assignment: read it through a typed alias.
  const resumedBytes = (progress as UploadProgress | undefined)?.resumedBytes ?? 0;
  const upload = { resumedBytes, sentBytes: info.size - resumedBytes };
  ctx.print(
    { ...version, upload },
    () =>
      `Pushed ${model.name} version ${version.version} (${version.sizeBytes} bytes, sha256 ${version.sha256})` +
      (run ? `\nFrom run ${run.name} (${run.id})` : ''),
  );
}

/**
 * Deletes a model with its versions and files. The server refuses (409) while a deployment serves one of its
 * versions: the refusal then names those deployments, so the user knows what to delete first.
 */
async function deleteModel(ctx: Context, ref: string) {
  const client = await ctx.client();
  const model = await requireModel(client, ref);
  try {
    await client.request('delete', '/v1/models/{id}', { path: { id: model.id } });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const users = (await collect(client.list('/v1/deployments'))).filter((d) => d.modelId === model.id);
    if (users.length === 0) throw err;
    const names = users.map((d) => d.name).join(', ');
    throw new CliError(
      `Model ${model.name} is served by ${users.length === 1 ? 'deployment' : 'deployments'} ${names}: ` +
        `delete ${users.length === 1 ? 'it' : 'them'} first (meridian deployments delete NAME)`,
    );
  }
  ctx.print({ deleted: model.id }, () => `Deleted model ${model.name} and its versions`);
}

export function modelCommands(program: Command): void {
  const models = program.command('models').description('Models and their files');
  models
    .command('create <name>')
    .description('Create a model')
    .option('--description <text>', 'what the model is, for the people who read it')
    .action(
      action(async (ctx, name: string, opts: { description?: string }) => {
        const model = await (await ctx.client()).request('post', '/v1/models', {
          body: { name, ...(opts.description ? { description: opts.description } : {}) },
        });
        ctx.print(model, () => `Created model ${model.name} (${model.id})`);
      }),
    );
  models
    .command('list')
    .description('Every model of the organisation')
    .action(
      action(async (ctx) => {
        const items = await collect((await ctx.client()).list('/v1/models'));
        ctx.print(items, () =>
          table(
            ['ID', 'NAME', 'LATEST', 'ALIASES'],
            items.map((m) => [
              m.id,
              m.name,
              m.latestVersion,
              m.aliases.map((a) => `${a.alias}→${a.version}`).join(' '),
            ]),
          ),
        );
      }),
    );
  models
    .command('push <file>')
    .description('Upload FILE as a new version of a model (created if needed); run again to resume')
    .requiredOption('--name <model>', 'the model')
    .option('--description <text>', 'what this version is (its description)')
    .option(
      '--run <run>',
      'the training run it came from: a run id, EXPERIMENT/RUN-NAME, or a run name no other run has',
    )
    .option('--part-size <MiB>', 'multipart part size in MiB, 5 to 5120 (default 8)')
    .option('--concurrency <n>', 'parts sent at once, 1 to 16 (default 3)')
    .action(action(async (ctx, file: string, opts: PushOptions) => push(ctx, file, opts)));
  models
    .command('delete <model>')
    .description('Delete a model (by name or id) with all its versions and their files; not while deployed')
    .action(action(async (ctx, ref: string) => deleteModel(ctx, ref)));

  program
    .command('versions <model>')
    .description('Versions of a model, newest first')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const model = await requireModel(client, ref);
        const items = await collect(client.list('/v1/models/{id}/versions', { path: { id: model.id } }));
        ctx.print(items, () =>
          table(
            ['VERSION', 'STATUS', 'FORMAT', 'BYTES', 'ALIASES', 'CREATED'],
            items.map((v) => [v.version, v.status, v.format, v.sizeBytes, v.aliases.join(' '), v.createdAt]),
          ),
        );
      }),
    );

  const aliases = program.command('aliases').description('Named pointers to model versions');
  aliases
    .command('list <model>')
    .description('A model’s aliases and the versions they point to')
    .action(
      action(async (ctx, ref: string) => {
        const model = await requireModel(await ctx.client(), ref);
        ctx.print(model.aliases, () =>
          table(
            ['ALIAS', 'VERSION'],
            model.aliases.map((a) => [a.alias, a.version]),
          ),
        );
      }),
    );
  aliases
    .command('set <model> <alias> <version>')
    .description('Point an alias at a version (deploy --alias serves what it names)')
    .action(
      action(async (ctx, ref: string, alias: string, asked: string) => {
        const version = versionNumber(asked, 'VERSION');
        const client = await ctx.client();
        const model = await requireModel(client, ref);
        const set = await client.request('put', '/v1/models/{id}/aliases/{alias}', {
          path: { id: model.id, alias },
          body: { version },
        });
        ctx.print(set, () => `${model.name}@${alias} → version ${version}`);
      }),
    );
  aliases
    .command('delete <model> <alias>')
    .description('Delete an alias; the version stays')
    .action(
      action(async (ctx, ref: string, alias: string) => {
        const client = await ctx.client();
        const model = await requireModel(client, ref);
        await client.request('delete', '/v1/models/{id}/aliases/{alias}', { path: { id: model.id, alias } });
        ctx.print({ deleted: alias }, () => `Deleted alias ${alias}`);
      }),
    );
}
