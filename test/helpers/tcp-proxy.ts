import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` that counts the bytes clients send and can cut every
 * connection once a number of them has passed (then stop listening until `restore`): a network failure
 * in the middle of an upload, as a client sees it. It can also lose answers after the server got the request.
 */
export async function startTcpProxy(port: number, targetPort: number) {
  const sockets = new Set<Socket>();
  let sent = 0;
  let cutAt = Number.POSITIVE_INFINITY;
  let refusing = false;
  let answersToLose = 0;
  // Closing the listener resets the connections the kernel accepted but the proxy has not seen yet: a
  // request the client gave up on while the network was down must not arrive (and count) after `restore`.
  const cut = () => {
    refusing = true;
    if (server.listening) server.close();
    for (const socket of sockets) socket.destroy();
  };
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      sent += chunk.byteLength;
      if (sent >= cutAt) cut();
      else upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    // Before the pipe's own listener: a lost answer never reaches the client.
    upstream.on('data', () => {
      if (answersToLose === 0) return;
      answersToLose -= 1;
      client.destroy();
      upstream.destroy();
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    /** Bytes clients have sent through the proxy so far. */
    sent: () => sent,
    /** Cut every connection once `bytes` more have been sent. */
    cutAfter: (bytes: number) => {
      cutAt = sent + bytes;
    },
    /**
     * The next `count` answers are lost: the request reaches the server, which handles it, and the connection
     * breaks as its answer starts back (a client then cannot tell whether it was handled).
     */
    loseAnswers: (count: number) => {
      answersToLose = count;
    },
    /** Listens again, on the same port. */
    restore: async () => {
      refusing = false;
      cutAt = Number.POSITIVE_INFINITY;
      if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (server.listening) server.once('close', () => resolve());
        else resolve();
        cut();
      }),
  };
}
