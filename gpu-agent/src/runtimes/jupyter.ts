/**
 * argv for a Jupyter server under the process runtime (Debian's jupyter-server package), with the
 * runtime's `{host}`, `{port}` and `{workdir}` placeholders. The token goes in `notebookEnv`, not argv:
 * /proc/<pid>/cmdline is world-readable, /proc/<pid>/environ is not.
 */
export function jupyterServerCommand(options: { executable?: string; allowRoot?: boolean } = {}): string[] {
  return [
    options.executable ?? 'jupyter-server',
    '--ip={host}',
    '--port={port}',
    // Fail instead of silently moving to another port than the one the runtime recorded.
    '--port-retries=0',
    '--no-browser',
    '--ServerApp.root_dir={workdir}',
    ...(options.allowRoot ? ['--allow-root'] : []),
  ];
}

/** Environment that makes the Jupyter server require `token` on every request (header or query). */
export function notebookEnv(token: string): Record<string, string> {
  if (token.length < 16) throw new Error('a notebook token needs at least 16 characters');
  return { JUPYTER_TOKEN: token };
}
