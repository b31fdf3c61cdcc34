import { createServer, request as forward, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A loopback proxy in front of a running origin, for the edge's tests: it counts the
 * requests per path that reach the origin, and can be switched off (every connection
 * then closes without an answer), as an origin that is down or cut off looks to an edge.
 */
export interface SwitchableOrigin {
  readonly url: string;
  /** Requests that reached the origin, by path (without the query). */
  readonly seen: Map<string, number>;
  /** The headers of the last request forwarded to the origin. */
  readonly lastHeaders: () => Record<string, string | string[] | undefined>;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startSwitchableOrigin(target: string): Promise<SwitchableOrigin> {
  const origin = new URL(target);
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
  let isDown = false;
  let lastHeaders: Record<string, string | string[] | undefined> = {};
  const server: Server = createServer((incoming, outgoing) => {
    if (isDown) return incoming.socket.destroy();
    const pathname = new URL(incoming.url ?? '/', 'http://x').pathname;
    seen.set(pathname, (seen.get(pathname) ?? 0) + 1);
    lastHeaders = { ...incoming.headers };
    const upstream = forward(
      {
        host: origin.hostname,
        port: origin.port,
        path: incoming.url,
        method: incoming.method,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  server.on('connection', (socket) => {
    if (isDown) return socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    lastHeaders: () => lastHeaders,
    down() {
      isDown = true;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
