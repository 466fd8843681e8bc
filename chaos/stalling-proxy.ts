// A TCP proxy in front of dynalite that a scenario can stall: from then on it still accepts
// connections and takes requests, but never forwards or answers one (nor the responses already on
// their way), as a DynamoDB endpoint that hangs does. It counts the requests it swallows, so the
// scenario knows calls are stuck before it acts.
import { EventEmitter, once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class StallingProxy {
  private stalled = false;
  private readonly sockets = new Set<Socket>();
  private readonly events = new EventEmitter();
  /** Chunks received (requests) while stalled, never answered. */
  swallowed = 0;
  /** Requests forwarded before the stall whose answer had not started to come back at the stall. */
  private unanswered = 0;
  private readonly awaiting = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  /** Listens on a free loopback port and forwards to `target` (http://host:port). */
  static async start(target: string): Promise<StallingProxy> {
    const { hostname, port } = new URL(target);
    let proxy: StallingProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, hostname, Number(port)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no TCP address');
    proxy = new StallingProxy(server, `http://127.0.0.1:${address.port}`);
    return proxy;
  }

  /** From now on nothing is forwarded either way; every connection stays open. */
  stall(): void {
    this.stalled = true;
    this.unanswered = this.awaiting.size;
  }

  /** Requests hanging since the stall: unanswered at the stall, or sent after it (each at least once). */
  get stuck(): number {
    return this.unanswered + this.swallowed;
  }

  /** Resolves once `count` requests hang, or rejects at the deadline. */
  async waitStuck(count: number, timeoutMs: number): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (this.stuck < count) {
      try {
        await once(this.events, 'swallowed', { signal: deadline });
      } catch {
        throw new Error(`only ${this.stuck} of ${count} DynamoDB requests hang at the stalled endpoint`);
      }
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket, host: string, port: number): void {
    this.track(client);
    const swallow = () => {
      this.swallowed++;
      this.events.emit('swallowed');
    };
    if (this.stalled) {
      client.on('data', swallow);
      return;
    }
    const upstream = connect(port, host);
    this.track(upstream);
    client.on('data', (chunk) => {
      if (this.stalled) return swallow();
      this.awaiting.add(client);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (this.stalled) return;
      this.awaiting.delete(client);
      client.write(chunk);
    });
    // Before the stall a closed side closes the other; after it, the client is left hanging.
    client.on('close', () => {
      this.awaiting.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      if (!this.stalled) client.destroy();
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
