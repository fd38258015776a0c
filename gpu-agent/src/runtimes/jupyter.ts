/**
 * argv for a Jupyter server under the process runtime (Debian's jupyter-server package), with the
 * runtime's `{socket}` and `{workdir}` placeholders: the server listens on a unix socket (mode 0600, its
 * own user's) in its runtime dir, inside a network namespace of its own. The token goes in `notebookEnv`,
 * not argv: /proc/<pid>/cmdline is world-readable, /proc/<pid>/environ only to the same uid. `basePath`
 * (`/notebooks/nb_x/`) is the prefix the server answers under, so a proxy can forward paths unchanged.
 */
export function jupyterServerCommand(options: { executable?: string; basePath?: string } = {}): string[] {
  return [
    options.executable ?? 'jupyter-server',
    '--sock={socket}',
    '--sock-mode=0600',
    '--no-browser',
    '--ServerApp.root_dir={workdir}',
    ...(options.basePath ? [`--ServerApp.base_url=${options.basePath}`] : []),
  ];
}

/**
 * Cmd for a notebook image of the jupyter/docker-stacks family (jupyter/base-notebook and kin): its
 * start-notebook.sh hands extra arguments to the server, and the server reads JUPYTER_TOKEN (notebookEnv)
 * itself. Deliberately that simple: an image that starts Jupyter another way is not supported yet.
 */
export function jupyterImageCommand(basePath: string): string[] {
  return ['start-notebook.sh', `--ServerApp.base_url=${basePath}`];
}

/** Environment that makes the Jupyter server require `token` on every request (header or query). */
export function notebookEnv(token: string): Record<string, string> {
  if (token.length < 16) throw new Error('a notebook token needs at least 16 characters');
  return { JUPYTER_TOKEN: token };
}
