/** A lease on one feed range: who reads it, from which continuation, and when the owner last proved alive. */
export interface Lease {
  rangeId: string;
  /** JSON of the range's bounds, to start a feed on it the first time. */
  range: string;
  continuation: string | undefined;
  owner: string | undefined;
  heartbeat: number;
}

/**
 * The leases of one Cosmos DB source (one per feed range), as the change feed processor uses them. The registry
 * hands the source a view of the metadata store's leases; tests may hand it any store of their own.
 */
export interface CosmosLeases {
  list(): Promise<Lease[]>;
  /** Registers ranges not known yet (first start, or after a split). */
  ensure(ranges: { rangeId: string; range: string }[]): Promise<void>;
  /** Takes every lease that is free or whose owner's heartbeat is older than `expiryMs`; returns the owner's leases. */
  acquire(owner: string, now: number, expiryMs: number): Promise<Lease[]>;
  heartbeat(owner: string, now: number): Promise<void>;
  /** Moves a range's continuation; only its owner may. Resolves false when the lease was lost. */
  advance(rangeId: string, owner: string, continuation: string): Promise<boolean>;
  release(owner: string): Promise<void>;
}
