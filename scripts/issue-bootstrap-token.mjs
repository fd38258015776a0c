#!/usr/bin/env node
// Issues a one-time bootstrap token for a new gpu-agent host, as a platform operator.
//
//   node scripts/issue-bootstrap-token.mjs [--ttl 3600] [--url http://127.0.0.1:8080]
//
// The operator credential is MERIDIAN_OPERATOR_TOKEN, else the one the control plane generated into its data
// dir (MERIDIAN_DATA_DIR, default .data, or its control-plane/ folder under npm start). The token alone goes to stdout, so `TOKEN=$(node …)` works; its
// expiry goes to stderr. It is shown this once: the control plane keeps only its hash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    ttl: { type: 'string', default: '3600' },
    url: {
      type: 'string',
      default:
        process.env.MERIDIAN_CONTROL_PLANE_URL ??
        `http://${process.env.MERIDIAN_HOST ?? '127.0.0.1'}:${process.env.MERIDIAN_PORT ?? '8080'}`,
    },
  },
});

function operatorToken() {
  if (process.env.MERIDIAN_OPERATOR_TOKEN) return process.env.MERIDIAN_OPERATOR_TOKEN;
  const dir = process.env.MERIDIAN_DATA_DIR ?? '.data';
  // The control plane's own data dir, or the root npm start keeps it in (docs/adr/0005-agent-directory-layout.md).
  const files = [join(dir, 'operator-token'), join(dir, 'control-plane', 'operator-token')];
  for (const file of files) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      // try the next
    }
  }
  console.error(
    `No operator token: set MERIDIAN_OPERATOR_TOKEN or start the control plane once (${files.join(' or ')}).`,
  );
  process.exit(1);
}

const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds)) {
  console.error('--ttl must be a whole number of seconds');
  process.exit(1);
}

const res = await fetch(new URL('/internal/v1/agents/bootstrap-tokens', values.url), {
  method: 'POST',
  headers: { authorization: `Bearer ${operatorToken()}`, 'content-type': 'application/json' },
  body: JSON.stringify({ ttlSeconds }),
}).catch((error) => {
  console.error(`Cannot reach the control plane at ${values.url}: ${error.cause?.message ?? error.message}`);
  process.exit(1);
});
const body = await res.json().catch(() => ({}));
if (res.status !== 201) {
  console.error(`The control plane answered ${res.status}: ${body.error?.message ?? 'no error message'}`);
  process.exit(1);
}
console.log(body.token);
console.error(`Bootstrap token ${body.id}, one use, valid until ${body.expiresAt}`);
