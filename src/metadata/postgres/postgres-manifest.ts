import type { Clock } from '../../core/clock.js';
import {
  type DatasetState,
  type DatasetSummary,
  type FileCommit,
  type LakeFile,
  type ManifestStore,
  notLive,
  type RetiredFile,
} from '../metadata-store.js';
import type { PostgresCheckpoints } from './postgres-ledger.js';
import { advisoryLockKey, type PostgresPool } from './postgres-pool.js';

interface FileRow {
  seq: string;
  dataset: string;
  key: string;
  partition: string | null;
  rows: string;
  bytes: string;
  run_id: string;
  committed_at: Date;
  retired_at: Date | null;
  data_seq: string | null;
  column_bytes: string | null;
}

/**
 * The manifest in PostgreSQL. A sequence alone does not order commits: a transaction that drew a lower seq may commit
 * after a reader saw a higher one, and an incremental reader that consumed up to it would never see the lower one.
 * So every commit first takes one transaction-scoped advisory lock per store, and draws its seqs under it: commits
 * become visible in seq order. The lock is released when the transaction ends, however it ends.
 */
export class PostgresManifest implements ManifestStore {
  private readonly lockKey: string;

  /** `s` is the quoted schema the tables live in; `schema` its name, which names the lock. */
  constructor(
    private readonly db: PostgresPool,
    private readonly s: string,
    schema: string,
    private readonly clock: Clock,
    private readonly checkpoints: PostgresCheckpoints,
  ) {
    this.lockKey = advisoryLockKey(`finmesh:manifest:${schema}`);
  }

  async commit(commit: FileCommit): Promise<number> {
    const now = new Date(this.clock.now());
    // A key added twice in one commit is live once, as the later file.
    const adds = [...new Map(commit.add.map((f) => [f.key, f])).values()];
    return this.db.transaction(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lockKey]);
      if (commit.replaceMustBeLive && commit.replace.length > 0) {
        const replace = [...new Set(commit.replace)];
        const { rows } = await q.query<{ key: string }>(
          `UPDATE ${this.s}.files SET retired_at = $1 WHERE dataset = $2 AND key = ANY($3::text[]) AND retired_at IS NULL RETURNING key`,
          [now, commit.dataset, replace],
        );
        const retired = new Set(rows.map((r) => r.key));
        const gone = replace.find((k) => !retired.has(k));
        if (gone !== undefined) throw notLive(commit.dataset, gone);
      }
      // A replayed batch rewrites the same key: the older row is retired so the key is live once. (Keys checked live
      // above are retired already.)
      const retire = [...(commit.replaceMustBeLive ? [] : commit.replace), ...adds.map((f) => f.key)];
      if (retire.length > 0) {
        await q.query(`UPDATE ${this.s}.files SET retired_at = $1 WHERE dataset = $2 AND key = ANY($3::text[]) AND retired_at IS NULL`, [
          now,
          commit.dataset,
          retire,
        ]);
      }
      let lastSeq = 0;
      if (adds.length > 0) {
        const inserted = await q.query<{ seq: string }>(
          `INSERT INTO ${this.s}.files (dataset, key, partition, rows, bytes, run_id, committed_at, data_seq, column_bytes)
           SELECT $1, f.key, f.partition, f.rows, f.bytes, $2, $3, f.data_seq, f.column_bytes
           FROM unnest($4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])
             WITH ORDINALITY AS f(key, partition, rows, bytes, data_seq, column_bytes, n)
           ORDER BY f.n
           RETURNING seq`,
          [
            commit.dataset,
            commit.runId,
            now,
            adds.map((f) => f.key),
            adds.map((f) => f.partition ?? null),
            adds.map((f) => f.rows),
            adds.map((f) => f.bytes),
            adds.map((f) => f.dataSeq ?? null),
            adds.map((f) => f.columnBytes ?? null),
          ],
        );
        for (const r of inserted.rows) lastSeq = Math.max(lastSeq, Number(r.seq));
      }
      await q.query(
        `INSERT INTO ${this.s}.datasets AS d (dataset, schema, inputs, updated_at) VALUES ($1, $2::jsonb, $3::jsonb, $4)
         ON CONFLICT (dataset) DO UPDATE SET schema = coalesce(EXCLUDED.schema, d.schema), inputs = d.inputs || EXCLUDED.inputs,
           updated_at = EXCLUDED.updated_at`,
        [commit.dataset, commit.schema ? JSON.stringify(commit.schema) : null, JSON.stringify(commit.inputs ?? {}), now],
      );
      if (commit.checkpoint) await this.checkpoints.setIn(q, commit.checkpoint.source, commit.checkpoint.value);
      return lastSeq;
    });
  }

  async liveFiles(dataset: string): Promise<LakeFile[]> {
    const { rows } = await this.db.query<FileRow>(`SELECT * FROM ${this.s}.files WHERE dataset = $1 AND retired_at IS NULL ORDER BY seq`, [
      dataset,
    ]);
    return rows.map(toLakeFile);
  }

  async commitTimes(dataset: string, since: Date): Promise<Date[]> {
    const { rows } = await this.db.query<{ t: Date }>(
      `SELECT DISTINCT committed_at AS t FROM ${this.s}.files WHERE dataset = $1 AND committed_at >= $2 ORDER BY committed_at`,
      [dataset, since],
    );
    return rows.map((r) => r.t);
  }

  async summaries(): Promise<DatasetSummary[]> {
    const { rows } = await this.db.query<{ dataset: string; files: string; rows: string; bytes: string; last: Date }>(
      `SELECT dataset, count(*) AS files, sum(rows) AS rows, sum(bytes) AS bytes, max(committed_at) AS last
       FROM ${this.s}.files WHERE retired_at IS NULL GROUP BY dataset ORDER BY dataset COLLATE "C"`,
    );
    return rows.map((r) => ({
      dataset: r.dataset,
      files: Number(r.files),
      rows: Number(r.rows),
      bytes: Number(r.bytes),
      lastCommitAt: r.last,
    }));
  }

  async state(dataset: string): Promise<DatasetState | undefined> {
    const { rows } = await this.db.query<{
      dataset: string;
      schema: DatasetState['schema'] | null;
      inputs: Record<string, number>;
      updated_at: Date;
    }>(`SELECT * FROM ${this.s}.datasets WHERE dataset = $1`, [dataset]);
    const row = rows[0];
    if (!row) return undefined;
    return { dataset: row.dataset, schema: row.schema ?? undefined, inputs: row.inputs, updatedAt: row.updated_at };
  }

  async retired(before: Date): Promise<RetiredFile[]> {
    const { rows } = await this.db.query<FileRow>(
      `SELECT * FROM ${this.s}.files f WHERE retired_at IS NOT NULL AND retired_at < $1
         AND NOT EXISTS (SELECT 1 FROM ${this.s}.files l WHERE l.key = f.key AND l.retired_at IS NULL)
       ORDER BY retired_at, seq`,
      [before],
    );
    return rows.map((r) => ({ ...toLakeFile(r), retiredAt: r.retired_at as Date }));
  }

  async forget(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query(`DELETE FROM ${this.s}.files WHERE key = ANY($1::text[]) AND retired_at IS NOT NULL`, [keys]);
  }

  async knows(key: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`SELECT 1 FROM ${this.s}.files WHERE key = $1 LIMIT 1`, [key]);
    return rowCount === 1;
  }
}

function toLakeFile(r: FileRow): LakeFile {
  return {
    seq: Number(r.seq),
    dataSeq: Number(r.data_seq ?? r.seq),
    columnBytes: r.column_bytes ?? undefined,
    dataset: r.dataset,
    key: r.key,
    partition: r.partition ?? undefined,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    runId: r.run_id,
    committedAt: r.committed_at,
  };
}
