import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy in front of a server, able to turn into a black hole: a network path that dies silently. */
export interface TcpProxyHandle {
  /** The loopback port to connect to instead of the server's. */
  readonly port: number;
  /** A `redis://` URL of the proxy. */
  readonly url: string;
  /**
   * From now on nothing passes, either way, on open connections or new ones, and nothing is closed: every
   * connection through the proxy is half-open, as after a silent network failure.
   */
  blackhole(): void;
  /** Forwards again: the dead connections are closed (as the network finally would), new ones are forwarded. */
  heal(): void;
  /** Closes every connection and the proxy. */
  close(): Promise<void>;
}

/** Starts a TCP proxy on a free loopback port in front of `targetPort` (on 127.0.0.1). */
export async function startTcpProxy(targetPort: number): Promise<TcpProxyHandle> {
  let dead = false;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    if (dead) {
      client.pause();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk) => {
        if (!dead) to.write(chunk);
      });
      from.on('close', () => {
        if (!dead) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}`,
    blackhole: () => {
      dead = true;
    },
    heal: () => {
      dead = false;
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      dead = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
