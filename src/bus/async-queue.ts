/** A small unbounded async queue: producers push, one consumer awaits. Bounds are the caller's (in-flight limits). */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;

  push(item: T): void {
    this.items.push(item);
    this.waiter?.();
  }

  unshift(item: T): void {
    this.items.unshift(item);
    this.waiter?.();
  }

  get size(): number {
    return this.items.length;
  }

  close(): void {
    this.closed = true;
    this.waiter?.();
  }

  /** The next item, or undefined once closed. */
  async take(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
    return this.items.shift();
  }
}
