import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/**
 * Below Linux's ephemeral range (32768 to 60999). A port found free here is bound later
 * (by a child process, or by PostgreSQL): meanwhile the ports the system hands out, to
 * services listening on port 0 and to every outgoing connection, come from the ephemeral
 * range and so cannot take it. Only another pick from this range could, at random.
 */
const RANGE = { from: 20_000, to: 32_000 } as const;

/** A loopback port nobody listens on right now, for a server that will bind it soon. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(RANGE.from, RANGE.to);
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port between ${RANGE.from} and ${RANGE.to} in 50 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
