// The address every process of a stack reaches Redis at, in front of the redis-server: a TCP
// forwarder a scenario can point at another server, as a managed Redis's primary endpoint (a DNS
// name) moves to the promoted replica at a failover. Switching drops every open connection, as the
// old primary's death does; the clients reconnect and reach the new server.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class RedisEndpoint {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private targetPort: number,
    readonly url: string,
  ) {}

  /** Listens on a free loopback port and forwards every connection to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<RedisEndpoint> {
    let endpoint: RedisEndpoint | undefined;
    const server = createServer((client) => endpoint?.accept(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the Redis endpoint has no TCP address');
    endpoint = new RedisEndpoint(server, targetPort, `redis://127.0.0.1:${address.port}`);
    return endpoint;
  }

  /** From now on connections reach `port`; the open ones are dropped. */
  switchTo(port: number): void {
    this.targetPort = port;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      // Either side closing closes the other: a client of a dead server reconnects.
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
