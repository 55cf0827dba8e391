import { createServer } from 'node:net';

const HOST = '127.0.0.1';

/** Redis Cluster's bus listens on the client port plus this. */
export const CLUSTER_BUS_OFFSET = 10_000;

/** Ports handed out in this process: the kernel may offer a just-closed port again before Redis binds it. */
const reservedPorts = new Set<number>();

/** A free loopback port, never handed out before in this process; with `withBusPort`, its bus port is free too. */
export async function pickFreePort(withBusPort: boolean): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await listenOn(0);
    if (port === undefined || reservedPorts.has(port)) continue;
    if (withBusPort) {
      const bus = port + CLUSTER_BUS_OFFSET;
      if (bus > 65_535 || reservedPorts.has(bus) || (await listenOn(bus)) === undefined) continue;
      reservedPorts.add(bus);
    }
    reservedPorts.add(port);
    return port;
  }
  throw new Error(`found no free port${withBusPort ? ' (with a free cluster bus port)' : ''} on ${HOST}`);
}

/** Binds and releases `port` (0: any) on loopback; resolves the bound port, or undefined if it is taken. */
export function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', () => resolve(undefined));
    probe.listen({ port, host: HOST, exclusive: true }, () => {
      const address = probe.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      probe.close(() => resolve(bound));
    });
  });
}
