import { isAbsolute, resolve } from 'node:path';
import type { Project, Source } from '../../config/project.js';
import { resolveSecret } from '../../config/secrets.js';
import { FinmeshError } from '../../core/errors.js';
import type { LeaseStore } from '../../metadata/metadata-store.js';
import type { ChangeFeedSource } from './change-feed-source.js';
import type { CosmosLeases } from './cosmos/lease-store.js';

export const CHANGE_FEED_KINDS = ['sqlite-outbox', 'postgres', 'cosmos'] as const;

export function isChangeFeed(source: Source): boolean {
  return (CHANGE_FEED_KINDS as readonly string[]).includes(source.config.kind);
}

/** Creates the adapter for a change-feed source; cloud SDKs load only when their adapter is asked for. */
export async function createChangeFeedSource(
  source: Source,
  project: Project,
  options: { owner?: string; leases?: LeaseStore } = {},
): Promise<ChangeFeedSource> {
  const c = source.config;
  switch (c.kind) {
    case 'sqlite-outbox': {
      const { SqliteOutboxSource } = await import('./sqlite-outbox/sqlite-outbox-source.js');
      return new SqliteOutboxSource(isAbsolute(c.database) ? c.database : resolve(project.root, c.database), c.aggregate);
    }
    case 'postgres': {
      const { PostgresSource } = await import('./postgres/postgres-source.js');
      return new PostgresSource({
        connectionString: resolveSecret(c.connection, project.root, `${source.file}: connection`),
        table: c.table,
        documentColumn: c.documentColumn,
        publication: c.publication,
        slot: c.slot,
        keyColumns: c.key,
      });
    }
    case 'cosmos': {
      const { CosmosSource } = await import('./cosmos/cosmos-source.js');
      return new CosmosSource({
        endpoint: c.endpoint,
        key: resolveSecret(c.accountKey, project.root, `${source.file}: accountKey`),
        database: c.database,
        container: c.container,
        mode: c.mode,
        startFrom: c.startFrom,
        partitionKeyPath: c.partitionKeyPath,
        leases: scopedLeases(required(options.leases, 'a lease store (the metadata store’s leases)'), source.name),
        owner: options.owner ?? `finmesh-${process.pid}`,
        heartbeatMs: c.leaseHeartbeatMs,
      });
    }
    default:
      throw new FinmeshError('NOT_SUPPORTED', `${source.file}: source kind "${c.kind}" is not a change feed`);
  }
}

function required<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`createChangeFeedSource needs ${what}`);
  return v;
}

/** A Cosmos DB source's view of the metadata store's leases (scoped to the source's name). */
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
