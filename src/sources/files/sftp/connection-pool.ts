import { FinmeshError } from '../../../core/errors.js';

/** What the pool needs of a connection. */
export interface PooledConnection {
  close(): void;
  /** True once the connection is gone (the server closed it while idle): the pool opens another instead. */
  readonly isLost?: boolean;
}

/**
 * At most `max` connections, opened on demand and reused. A connection whose work failed is closed rather than
 * reused: the next user opens a fresh one. Users beyond `max` wait their turn, first come first served.
 */
export class ConnectionPool<C extends PooledConnection> {
  private readonly idle: C[] = [];
  private open = 0;
  private readonly waiting: ((c: C | undefined) => void)[] = [];
  private closed = false;

  constructor(
    private readonly connect: () => Promise<C>,
    private readonly max: number,
    /** The name in the error a user of a closed pool gets (`SFTP 127.0.0.1:22`). */
    private readonly name: string,
  ) {}

  /** Runs `fn` on a connection of the pool; throws what `fn` or connecting threw. */
  async use<T>(fn: (c: C) => Promise<T>): Promise<T> {
    const c = await this.acquire();
    try {
      const out = await fn(c);
      this.release(c);
      return out;
    } catch (e) {
      this.drop(c);
      throw e;
    }
  }

  /** Closes idle connections now and the others as their work ends; waiting and later users get `UNAVAILABLE`. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.close();
    for (const w of this.waiting.splice(0)) w(undefined);
  }

  private async acquire(): Promise<C> {
    if (this.closed) throw new FinmeshError('UNAVAILABLE', `${this.name}: the connection pool is closed`);
    for (let idle = this.idle.pop(); idle; idle = this.idle.pop()) {
      if (!idle.isLost) return idle;
      idle.close();
      this.open--;
    }
    if (this.open < this.max) {
      this.open++;
      try {
        return await this.connect();
      } catch (e) {
        this.open--;
        this.handOn(undefined);
        throw e;
      }
    }
    const handed = await new Promise<C | undefined>((r) => this.waiting.push(r));
    return handed ?? this.acquire();
  }

  private release(c: C): void {
    if (this.closed) this.drop(c);
    else this.handOn(c);
  }

  private drop(c: C): void {
    c.close();
    this.open--;
    this.handOn(undefined);
  }

  /** Hands a connection (or, when one was dropped, the right to open one) to the next waiter. */
  private handOn(c: C | undefined): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else if (c) this.idle.push(c);
  }
}
