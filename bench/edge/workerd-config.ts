import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';

const WRANGLER_TOML = () => readFileSync(join(REPO_ROOT, 'wrangler.toml'), 'utf8');
export const COMPATIBILITY_DATE =
  /^compatibility_date = "([^"]+)"$/m.exec(WRANGLER_TOML())?.[1] ?? '2026-04-01';

/** [vars] of wrangler.toml (flat `KEY = "value"` lines, as scripts/edge.mjs reads them). */
export function wranglerVars(): Record<string, string> {
  const toml = WRANGLER_TOML();
  const section = /^\[vars\]\n([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? '';
  return Object.fromEntries([...section.matchAll(/^([A-Z_]+) = "([^"]*)"$/gm)].map((m) => [m[1], m[2]]));
}

/** The `[[<table>]]` blocks of wrangler.toml, each as its flat `key = "value"` pairs. */
function wranglerTables(table: string): Record<string, string>[] {
  const toml = WRANGLER_TOML();
  const marker = `[[${table}]]`;
  return toml
    .split(/^(?=\[)/m)
    .filter((block) => block.startsWith(marker))
    .map((block) =>
      Object.fromEntries([...block.matchAll(/^(\w+) = "([^"]*)"$/gm)].map((m) => [m[1], m[2]])),
    );
}

/** The KV namespaces and Durable Object namespaces the edge binds, from wrangler.toml. */
export function wranglerBindings(): { kv: string[]; durableObjects: { name: string; className: string }[] } {
  return {
    kv: wranglerTables('kv_namespaces').map((t) => t.binding ?? ''),
    durableObjects: wranglerTables('durable_objects.bindings').map((t) => ({
      name: t.name ?? '',
      className: t.class_name ?? '',
    })),
  };
}

const text = (s: string) => JSON.stringify(s);

/**
 * A `workerd serve` config (capnp text) in `dir`, with its modules copied beside it:
 * - `edge`: the wrangler bundle of the edge Worker with the bindings wrangler.toml declares: vars and secrets
 *   as text, each KV namespace (EDGE_KV) as a `kvNamespace` served by bench/edge/kv-worker.js (in memory),
 *   each Durable Object namespace (ORG_LIMITER: OrgLimiter) SQLite-backed on local disk under `dir`/do;
 * - `bare-<name>`: bench/edge/bare-worker.js forwarding to each of `bareUpstreams`;
 * - `floor-<name>`: bench/edge/signing-floor-worker.js forwarding to each of them (the signed forward's
 *   fixed work, nothing else);
 * - `header-floor-<name>`: the same Worker with SIGN_BODY "false" (a signature over the headers only, the
 *   body streamed through);
 * - `internet`: the global outbound, allowed to reach local addresses (the agents are on 127.0.0.1);
 * - one http socket on 127.0.0.1 per Worker.
 * Returns the config's path.
 */
export function writeWorkerdConfig(options: {
  dir: string;
  bundle: string;
  edgePort: number;
  edgeBindings: Record<string, string>;
  bareUpstreams: { name: string; url: string; port: number; floorPort: number; headerFloorPort: number }[];
}): string {
  const { dir } = options;
  mkdirSync(join(dir, 'do'), { recursive: true });
  copyFileSync(options.bundle, join(dir, 'edge.js'));
  copyFileSync(join(REPO_ROOT, 'bench/edge/bare-worker.js'), join(dir, 'bare-worker.js'));
  copyFileSync(join(REPO_ROOT, 'bench/edge/signing-floor-worker.js'), join(dir, 'signing-floor-worker.js'));
  copyFileSync(join(REPO_ROOT, 'bench/edge/kv-worker.js'), join(dir, 'kv-worker.js'));

  const declared = wranglerBindings();
  const bindings = [
    ...Object.entries(options.edgeBindings).map(
      ([name, value]) => `(name = ${text(name)}, text = ${text(value)}),`,
    ),
    ...declared.kv.map((name) => `(name = ${text(name)}, kvNamespace = "edge-kv-${name}"),`),
    ...declared.durableObjects.map(
      (d) => `(name = ${text(d.name)}, durableObjectNamespace = ${text(d.className)}),`,
    ),
  ]
    .map((line) => `    ${line}`)
    .join('\n');
  const kvServices = declared.kv
    .map(
      (name) => `    (name = "edge-kv-${name}", worker = (
      modules = [(name = "kv-worker.js", esModule = embed "kv-worker.js")],
      compatibilityDate = "${COMPATIBILITY_DATE}",
    )),`,
    )
    .join('\n');
  const namespaces = declared.durableObjects
    .map(
      (d) =>
        `    (className = ${text(d.className)}, uniqueKey = "meridian-edge-${d.className}", enableSql = true),`,
    )
    .join('\n');
  // The floor Worker signs with a key of its own, the size of the edge's (the agent checks the caller's).
  const floorKey = 'f'.repeat(43);
  const floorService = (service: string, url: string, signBody: boolean) =>
    `    (name = "${service}", worker = (
      modules = [(name = "signing-floor-worker.js", esModule = embed "signing-floor-worker.js")],
      compatibilityDate = "${COMPATIBILITY_DATE}",
      bindings = [(name = "UPSTREAM", text = ${text(url)}), (name = "KEY", text = "${floorKey}"), (name = "SIGN_BODY", text = "${signBody}")],
    )),`;
  const bareServices = options.bareUpstreams
    .flatMap((b) => [
      `    (name = "bare-${b.name}", worker = (
      modules = [(name = "bare-worker.js", esModule = embed "bare-worker.js")],
      compatibilityDate = "${COMPATIBILITY_DATE}",
      bindings = [(name = "UPSTREAM", text = ${text(b.url)})],
    )),`,
      floorService(`floor-${b.name}`, b.url, true),
      floorService(`header-floor-${b.name}`, b.url, false),
    ])
    .join('\n');
  const bareSockets = options.bareUpstreams
    .flatMap((b) => [
      `    (name = "bare-${b.name}", address = "127.0.0.1:${b.port}", http = (), service = "bare-${b.name}"),`,
      `    (name = "floor-${b.name}", address = "127.0.0.1:${b.floorPort}", http = (), service = "floor-${b.name}"),`,
      `    (name = "header-floor-${b.name}", address = "127.0.0.1:${b.headerFloorPort}", http = (), service = "header-floor-${b.name}"),`,
    ])
    .join('\n');
  const config = `# Generated by bench/edge.ts: raw workerd, production-like (no Miniflare proxy in front).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "edge", worker = .edge),
${kvServices}
    (name = "do-disk", disk = (path = ${text(join(dir, 'do'))}, writable = true)),
    (name = "internet", network = (allow = ["public", "local"])),
${bareServices}
  ],
  sockets = [
    (name = "edge", address = "127.0.0.1:${options.edgePort}", http = (), service = "edge"),
${bareSockets}
  ],
);

const edge :Workerd.Worker = (
  modules = [(name = "edge.js", esModule = embed "edge.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [
${bindings}
  ],
  durableObjectNamespaces = [
${namespaces}
  ],
  durableObjectStorage = (localDisk = "do-disk"),
  globalOutbound = "internet",
);
`;
  const path = join(dir, 'workerd.capnp');
  writeFileSync(path, config);
  return path;
}
