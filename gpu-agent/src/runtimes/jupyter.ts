import { existsSync } from 'node:fs';

/**
 * Jupyter front ends the process runtime can run, best first: JupyterLab where the host has it, else
 * Debian's classic notebook (6.4, a full UI on its own server), else the bare `jupyter-server` (API only).
 * Each names its options differently: the classic notebook is a `NotebookApp`, the others a `ServerApp`.
 */
export const JUPYTER_FRONT_ENDS = [
  { executable: '/usr/bin/jupyter-lab', app: 'ServerApp', ui: 'lab' },
  { executable: '/usr/bin/jupyter-notebook', app: 'NotebookApp', ui: 'tree' },
  { executable: '/usr/bin/jupyter-server', app: 'ServerApp', ui: null },
] as const;

export type JupyterFrontEnd = (typeof JUPYTER_FRONT_ENDS)[number];

/** The best front end installed here (checked once per call: a host gains one by installing a package). */
export function installedJupyter(
  exists: (path: string) => boolean = existsSync,
): JupyterFrontEnd | undefined {
  return JUPYTER_FRONT_ENDS.find((f) => exists(f.executable));
}

/**
 * argv for a Jupyter server under the process runtime, with the runtime's `{socket}` and `{workdir}`
 * placeholders: the server listens on a unix socket (mode 0600, its own user's) in its runtime dir, inside a
 * network namespace of its own. The token goes in `notebookEnv`, not argv: /proc/<pid>/cmdline is
 * world-readable, /proc/<pid>/environ only to the same uid. `basePath` (`/notebooks/nb_x/`) is the prefix
 * the server answers under, so a proxy can forward paths, assets and WebSockets unchanged.
 */
export function jupyterServerCommand(
  options: { executable?: string; app?: JupyterFrontEnd['app']; basePath?: string } = {},
): string[] {
  const app = options.app ?? 'ServerApp';
  const rootOption = app === 'NotebookApp' ? 'notebook_dir' : 'root_dir';
  return [
    options.executable ?? 'jupyter-server',
    '--sock={socket}',
    '--sock-mode=0600',
    '--no-browser',
    `--${app}.${rootOption}={workdir}`,
    ...(options.basePath ? [`--${app}.base_url=${options.basePath}`] : []),
  ];
}

/** argv for the best front end installed here, or undefined when the host has no Jupyter at all. */
export function installedJupyterCommand(basePath: string): string[] | undefined {
  const frontEnd = installedJupyter();
  return frontEnd && jupyterServerCommand({ ...frontEnd, basePath });
}

/**
 * Cmd for a notebook image of the jupyter/docker-stacks family (jupyter/base-notebook and kin) and for the
 * platform's own meridian/notebook (scripts/build-notebook-image.sh, from Debian's packages): their
 * start-notebook.sh serves on 0.0.0.0:8888 and hands extra arguments to the server (the platform image's
 * maps them to the classic notebook's NotebookApp), and the server reads JUPYTER_TOKEN (notebookEnv) itself.
 */
export function jupyterImageCommand(basePath: string): string[] {
  return ['start-notebook.sh', `--ServerApp.base_url=${basePath}`];
}

/** Environment that makes the Jupyter server require `token` on every request (header or query). */
export function notebookEnv(token: string): Record<string, string> {
  if (token.length < 16) throw new Error('a notebook token needs at least 16 characters');
  return { JUPYTER_TOKEN: token };
}
