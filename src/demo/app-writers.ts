import { isAbsolute, resolve } from 'node:path';
import type { Project } from '../config/project.js';
import { resolveSecret } from '../config/secrets.js';
import { FinmeshError } from '../core/errors.js';
import type { ChangeEvent } from './simulator/fintech-simulator.js';
import { PostgresApp } from './simulator/postgres-app.js';
import { SqliteApp } from './simulator/sqlite-app.js';
import { SIMULATED_ENTITIES } from './simulator-config.js';

/** Where the simulated app writes: the transactional databases behind the project's change-feed sources. */
export interface AppWriters {
  hasReferenceData(): Promise<boolean>;
  apply(events: ChangeEvent[], perTransaction?: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens the app databases the project's `sqlite-outbox` and `postgres` sources read from. */
export async function openAppWriters(project: Project): Promise<AppWriters> {
  const sqlite = new Map<string, SqliteApp>();
  const pgTables = new Map<string, Map<string, string>>();
  for (const s of project.sources) {
    const c = s.config;
    if (c.kind === 'sqlite-outbox') {
      const path = isAbsolute(c.database) ? c.database : resolve(project.root, c.database);
      if (!sqlite.has(path)) sqlite.set(path, new SqliteApp(path));
    } else if (c.kind === 'postgres' && isSimulatedEntity(tableName(c.table))) {
      // The simulated app writes each entity into the table of the same name (`app.transactions`).
      const conn = resolveSecret(c.connection, project.root, `${s.file}: connection`);
      const tables = pgTables.get(conn) ?? new Map<string, string>();
      tables.set(tableName(c.table), c.table);
      pgTables.set(conn, tables);
    }
  }
  const pgApps: PostgresApp[] = [];
  for (const [conn, tables] of pgTables) pgApps.push(await PostgresApp.open(conn, tables));
  if (sqlite.size === 0 && pgApps.length === 0) {
    throw new FinmeshError(
      'CONFIG_INVALID',
      `the project has no transactional source to write to (a source of kind sqlite-outbox, or postgres on a table named ${SIMULATED_ENTITIES.join(', ')})`,
    );
  }
  return {
    async hasReferenceData() {
      for (const a of sqlite.values()) if (!a.hasReferenceData()) return false;
      for (const a of pgApps) if (!(await a.hasReferenceData())) return false;
      return true;
    },
    async apply(events, perTransaction = 1) {
      for (const a of sqlite.values()) a.apply(events, perTransaction);
      for (const a of pgApps) await a.apply(events, perTransaction);
    },
    async close() {
      for (const a of sqlite.values()) a.close();
      for (const a of pgApps) await a.close();
    },
  };
}

function tableName(table: string): string {
  return table.slice(table.indexOf('.') + 1);
}

function isSimulatedEntity(name: string): boolean {
  return (SIMULATED_ENTITIES as readonly string[]).includes(name);
}
