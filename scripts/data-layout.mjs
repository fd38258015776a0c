// The folders `npm start` keeps its state in (docs/adr/0005-agent-directory-layout.md): one root, and a
// folder per component side by side, so the agent's state is never inside the control plane's and tenant
// workloads reach only their own volumes.
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Folders of the root that are not the control plane's (everything else at the top of an old root is). */
const COMPONENT_FOLDERS = new Set(['control-plane', 'agent', 'edge', 'workloads']);

/**
 * Resolves the root once (against the cwd), creates it and the per-component folders with their modes,
 * and moves a control plane's files from the old layout (all at the top of the root) into
 * `control-plane/`. Returns the absolute folders and what was moved, for the caller to say so.
 */
export function prepareLayout(rootDir, env = {}) {
  const root = resolve(rootDir);
  const layout = {
    root,
    controlPlane: join(root, 'control-plane'),
    agent: resolve(env.MERIDIAN_AGENT_DATA_DIR ?? join(root, 'agent')),
    workloads: resolve(env.MERIDIAN_AGENT_WORKLOADS_DIR ?? join(root, 'workloads')),
    edge: resolve(env.MERIDIAN_EDGE_STATE_DIR ?? join(root, 'edge')),
    moved: [],
  };
  // Passable, not listable: workload users go through it to their own folders under workloads/.
  mkdirSync(root, { recursive: true, mode: 0o711 });
  chmodSync(root, 0o711);
  const oldLayout = existsSync(join(root, 'control-plane.db')) && !existsSync(layout.controlPlane);
  mkdirSync(layout.controlPlane, { recursive: true, mode: 0o700 });
  chmodSync(layout.controlPlane, 0o700);
  if (oldLayout) {
    for (const name of readdirSync(root)) {
      if (COMPONENT_FOLDERS.has(name)) continue;
      renameSync(join(root, name), join(layout.controlPlane, name));
      layout.moved.push(name);
    }
  }
  if (existsSync(layout.agent)) chmodSync(layout.agent, 0o700);
  else mkdirSync(layout.agent, { recursive: true, mode: 0o700 });
  return layout;
}
