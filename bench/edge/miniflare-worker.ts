import { parseArgs } from 'node:util';
import { Log, LogLevel, Miniflare } from 'miniflare';

/**
 * The bare pass-through Worker (bench/edge/bare-worker.js) served by Miniflare with the options
 * scripts/edge.mjs gives the edge under `npm start` (127.0.0.1, cf: false, the same compatibility date and
 * flags), so that the local set-up compares like with like.
 *   node --import tsx bench/edge/miniflare-worker.ts --script <path> --upstream <url> --port <n>
 *     --compatibility-date <date>
 */
const { values } = parseArgs({
  options: {
    script: { type: 'string' },
    upstream: { type: 'string' },
    port: { type: 'string' },
    'compatibility-date': { type: 'string' },
  },
});
if (!values.script || !values.upstream || !values.port || !values['compatibility-date'])
  throw new Error('--script, --upstream, --port and --compatibility-date are required');

const mf = new Miniflare({
  modules: true,
  scriptPath: values.script,
  compatibilityDate: values['compatibility-date'],
  compatibilityFlags: ['nodejs_compat'],
  host: '127.0.0.1',
  port: Number(values.port),
  cf: false,
  log: new Log(LogLevel.WARN),
  bindings: { UPSTREAM: values.upstream },
});
const url = await mf.ready;
console.log(JSON.stringify({ msg: 'listening', url: url.origin }));
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
