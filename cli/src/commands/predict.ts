import { readFile } from 'node:fs/promises';
import { predict, predictRaw, predictSimple, type Tensor } from '@meridian/sdk';
import { readNpyFile } from '@meridian/sdk/node';
import type { Command } from 'commander';
import { action, CliError, type Context } from '../context.js';
import { versionNumber } from '../numbers.js';

interface PredictOptions {
  data?: string;
  input: string[];
  version?: string;
}

async function readData(source: string): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(source, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(
      err.code === 'ENOENT' ? `No such file: ${source}` : `Cannot read ${source}: ${err.message}`,
    );
  });
}

async function readInputs(specs: string[]): Promise<Tensor[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const match = /^([^=]+)=@(.+)$/.exec(spec);
      if (!match?.[1] || !match[2]) throw new CliError(`--input wants name=@file.npy, not ${spec}`, 2);
      const [, name, file] = match;
      return readNpyFile(file, name).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(
          err.code === 'ENOENT' ? `No such file: ${file}` : `Cannot read ${file}: ${err.message}`,
        );
      });
    }),
  );
}

async function run(ctx: Context, name: string, opts: PredictOptions) {
  // Checked before anything is read or sent: the edge would answer --version 0 with a 404 naming no version.
  const version = opts.version === undefined ? undefined : String(versionNumber(opts.version, '--version'));
  if (!opts.data && opts.input.length === 0)
    throw new CliError('Give --data FILE (or - for stdin) or --input name=@file.npy', 2);
  if (opts.data && opts.input.length > 0) throw new CliError('Give --data or --input, not both', 2);
  const client = await ctx.client();
  let result: unknown;
  if (opts.input.length > 0) {
    const inputs = await readInputs(opts.input);
    result = await predict(client, name, inputs, {
      binary: true,
      ...(version ? { version } : {}),
    });
  } else {
    const text = await readData(opts.data ?? '-');
    let body: { inputs?: unknown };
    try {
      body = JSON.parse(text) as { inputs?: unknown };
    } catch {
      throw new CliError(`${opts.data === '-' ? 'stdin' : opts.data} is not JSON`);
    }
    if (Array.isArray(body.inputs)) {
      const pinned = version ? `/versions/${version}` : '';
      const url = `${client.edgeUrl}/v2/models/${encodeURIComponent(name)}${pinned}/infer`;
      result = await predictRaw(client, url, text, { 'content-type': 'application/json' });
    } else if (body.inputs && typeof body.inputs === 'object') {
      // The edge's simple route serves the deployment's routing: it has no version in its path or body.
      if (version)
        throw new CliError(
          '--version pins a version of an OIP request: give "inputs" as a list of tensors ' +
            '([{"name", "datatype", "shape", "data"}]) or --input name=@file.npy, not an object of named arrays',
          2,
        );
      // By name, straight to the edge: a predict-only key cannot read deployments on the control plane.
      result = await predictSimple(client, name, body as { inputs: Record<string, unknown> });
    } else {
      throw new CliError('The request needs "inputs": an OIP list of tensors, or an object of named arrays');
    }
  }
  process.stdout.write(`${JSON.stringify(result, null, ctx.options.json ? 2 : undefined)}\n`);
}

export function predictCommand(program: Command): void {
  program
    .command('predict <deployment>')
    .description(
      'Run a prediction through the edge: OIP or simple JSON from a file or stdin, or .npy tensors',
    )
    .option('--data <file>', 'request JSON from a file, or - for stdin')
    .option(
      '--input <name=@file.npy>',
      'a tensor from a NumPy file, sent as binary OIP (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--version <n>', 'pin a model version number (OIP requests and --input; not simple JSON)')
    .action(action(async (ctx, name: string, opts: PredictOptions) => run(ctx, name, opts)));
}
