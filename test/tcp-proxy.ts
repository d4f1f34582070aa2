// A loopback TCP proxy in front of a real server, for tests of what a client does when the network fails: it counts
// the bytes the server sends through it and can cut every connection once the server has sent a given number of
// bytes more. A cut connection relays nothing after that byte: the server's side is reset, and the client receives
// what was relayed before the cut, then the end of the stream — as when a network path dies, and deterministic (the
// proxy runs in the client's process, so a reset on the client's side would drop bytes it had not read yet).
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxy {
  /** The loopback port clients connect to instead of the server's. */
  port: number;
  /** Bytes the server has sent to clients through the proxy, since it started. */
  readonly relayed: number;
  /** Cuts every open connection once the server has sent `bytes` more; once. */
  cutAfter(bytes: number): void;
  /** Whether a cut armed by `cutAfter` happened. */
  readonly cut: boolean;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; cut: boolean }>();
  let relayed = 0;
  let cutAt: number | undefined;
  let cut = false;
  const cutAll = () => {
    cutAt = undefined;
    cut = true;
    for (const p of pairs) {
      p.cut = true;
      p.upstream.destroy();
      p.client.end();
    }
  };
  const server: Server = createServer((client) => {
    const upstream = tcpConnect({ host: targetHost, port: targetPort });
    const pair = { client, upstream, cut: false };
    pairs.add(pair);
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => {
      if (!pair.cut) client.destroy();
    });
    client.on('data', (d: Buffer) => {
      if (!pair.cut) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (pair.cut) return;
      relayed += d.length;
      client.write(d);
      if (cutAt !== undefined && relayed >= cutAt) cutAll();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the proxy has no port');
  return {
    port: address.port,
    get relayed() {
      return relayed;
    },
    get cut() {
      return cut;
    },
    cutAfter(bytes) {
      cut = false;
      cutAt = relayed + bytes;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
