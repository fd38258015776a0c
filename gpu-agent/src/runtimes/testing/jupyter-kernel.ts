import { randomUUID } from 'node:crypto';
import { WebSocket } from 'undici';

/**
 * Runs `code` in a fresh kernel of the Jupyter server at `baseUrl` (ending in `/`), as a notebook user
 * would from a cell, and returns what it printed on stdout. Fails on an error reply or after `timeoutMs`.
 */
export async function runInKernel(baseUrl: string, token: string, code: string, timeoutMs = 30_000) {
  const headers = { authorization: `token ${token}`, 'content-type': 'application/json' };
  const created = await fetch(`${baseUrl}api/kernels`, { method: 'POST', headers, body: '{}' });
  if (created.status !== 201)
    throw new Error(`starting a kernel answered ${created.status}: ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}api/kernels/${id}/channels?token=${token}`);
  const msgId = randomUUID();
  try {
    return await new Promise<string>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () => reject(new Error(`no reply within ${timeoutMs} ms; got: ${stdout}`)),
        timeoutMs,
      );
      ws.addEventListener('open', () => {
        ws.send(
          JSON.stringify({
            header: {
              msg_id: msgId,
              username: 'test',
              session: randomUUID(),
              msg_type: 'execute_request',
              version: '5.3',
              date: new Date().toISOString(),
            },
            parent_header: {},
            metadata: {},
            content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false },
            channel: 'shell',
            buffers: [],
          }),
        );
      });
      ws.addEventListener('message', (event) => {
        const msg = JSON.parse(String(event.data)) as {
          msg_type: string;
          parent_header: { msg_id?: string };
          content: {
            name?: string;
            text?: string;
            execution_state?: string;
            ename?: string;
            evalue?: string;
          };
        };
        if (msg.parent_header.msg_id !== msgId) return;
        if (msg.msg_type === 'stream' && msg.content.name === 'stdout') stdout += msg.content.text ?? '';
        if (msg.msg_type === 'error') reject(new Error(`${msg.content.ename}: ${msg.content.evalue}`));
        // Output arrives on iopub, the reply on shell, in no fixed order: iopub's idle comes after the output.
        if (msg.msg_type === 'status' && msg.content.execution_state === 'idle') {
          clearTimeout(timer);
          resolve(stdout);
        }
      });
      ws.addEventListener('error', () => reject(new Error('kernel websocket failed')));
    });
  } finally {
    ws.close();
    await fetch(`${baseUrl}api/kernels/${id}`, { method: 'DELETE', headers }).catch(() => undefined);
  }
}

/**
 * Python that tries what a hostile notebook would and prints one JSON line: for each target, `ok` or the
 * error it met. Reads files (another's credential or volume, another process's environment) and opens TCP
 * connections.
 */
export function attackScript(targets: {
  read: Record<string, string>;
  connect: Record<string, { host: string; port: number }>;
}): string {
  const connect = Object.fromEntries(Object.entries(targets.connect).map(([k, v]) => [k, [v.host, v.port]]));
  return `
import json, socket
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = 'ok'
    except Exception as e:
        out[name] = type(e).__name__ + ': ' + str(e)
for name, path in ${JSON.stringify(targets.read)}.items():
    attempt(name, lambda: open(path, 'rb').read())
for name, (host, port) in ${JSON.stringify(connect)}.items():
    attempt(name, lambda: socket.create_connection((host, port), timeout=3).close())
print(json.dumps(out))
`;
}
