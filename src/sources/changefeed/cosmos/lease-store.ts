import type { Lease, LeaseStore } from '../../../metadata/metadata-store.js';

export type { Lease };

/** The leases of one Cosmos DB source (one row per feed range), as the change feed processor uses them. */
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

/** A source's view of the metadata store's leases. */
export function scopedLeases(store: LeaseStore, source: string): CosmosLeases {
  return {
    list: () => store.list(source),
    ensure: (ranges) => store.ensure(source, ranges),
    acquire: (owner, now, expiryMs) => store.acquire(source, owner, now, expiryMs),
    heartbeat: (owner, now) => store.heartbeat(source, owner, now),
    advance: (rangeId, owner, continuation) => store.advance(source, rangeId, owner, continuation, Date.now()),
    release: (owner) => store.release(source, owner),
  };
}
