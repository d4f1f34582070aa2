import { type Project, type Source, sqlName } from '../../config/project.js';
import { buildDag, downstreamOf } from '../../engine/dag.js';
import { mermaidDiagram } from '../diagram.js';
import type { Messages } from './messages/en.js';

/** A diagram of the documents: a file name (without extension) and its Mermaid source. */
export interface DiagramSource {
  name: string;
  mermaid: string;
}

const q = (s: string) => `"${s.replace(/"/g, '#quot;')}"`;
/** Text of a sequence message or note: Mermaid reads `;` as the end of a statement. */
const t = (s: string) => s.replace(/;/g, ',');
const nid = (s: string) => s.replace(/[^A-Za-z0-9]/g, '_');

/**
 * The change-feed sources and the file sources of a project, each list led by the source that feeds the most
 * products (the one whose flow the documents draw).
 */
export function sourcesByKind(project: Project): { stream: Source[]; files: Source[] } {
  const reach = new Map(project.sources.map((s) => [s.name, feeds(project, s)]));
  const byReach = (a: Source, b: Source) => (reach.get(b.name) ?? 0) - (reach.get(a.name) ?? 0) || a.name.localeCompare(b.name);
  return {
    stream: project.sources.filter((s) => s.config.kind !== 'sftp').sort(byReach),
    files: project.sources.filter((s) => s.config.kind === 'sftp').sort(byReach),
  };
}

function feeds(project: Project, source: Source): number {
  const fed = productsFed(project, source);
  return fed.direct.length + fed.downstream.length;
}

/** The products a source feeds: those whose model reads it, then everything downstream of those. */
export function productsFed(project: Project, source: Source): { direct: string[]; downstream: string[] } {
  const { dag } = buildDag(project);
  const direct = dag.nodes.filter((n) => n.sources.includes(source));
  const down = new Set<string>();
  for (const n of direct) for (const d of downstreamOf(dag, n)) down.add(d);
  const name = (product: string) => {
    const p = project.products.find((x) => x.name === product);
    return p ? sqlName(p.dataset) : product;
  };
  return { direct: direct.map((n) => sqlName(n.product.dataset)), downstream: [...down].map(name).sort() };
}

/** Every diagram of the documents, in the reader's language, generated from the project. */
export function diagramSources(project: Project, m: Messages): DiagramSource[] {
  const out: DiagramSource[] = [{ name: 'architecture-local', mermaid: mermaidDiagram(project) }];
  out.push({ name: 'architecture-cloud', mermaid: cloudDiagram(project, m) });
  out.push({ name: 'monitoring', mermaid: monitoringDiagram(project, m) });
  const { stream, files } = sourcesByKind(project);
  if (stream[0]) out.push({ name: 'flow-transaction', mermaid: transactionFlow(project, stream[0], m) });
  if (files[0]) out.push({ name: 'flow-partner-file', mermaid: fileFlow(project, files[0], m) });
  return out;
}

function cloudDiagram(project: Project, m: Messages): string {
  const d = m.diagram;
  const { stream, files } = sourcesByKind(project);
  const lines = ['flowchart LR'];
  lines.push(`  subgraph azure[${q(d.azure)}]`, `    APP[${q(d.app)}]`);
  lines.push(`    COSMOS[(${q(`Cosmos DB · change feed<br/>${stream.map((s) => s.name).join(', ') || '–'}`)})]`, '  end');
  lines.push(`  subgraph partners[${q(d.partners)}]`);
  lines.push(`    SFTP[[${q(`SFTP<br/>${files.map((s) => s.name).join(', ') || '–'}`)}]]`, '  end');
  lines.push(`  subgraph gcp[${q(d.gcp)}]`);
  lines.push(`    subgraph ingest[${q(d.ingestion)}]`);
  lines.push(`      CFR[${q(`${d.cfReader}<br/>finmesh stream`)}]`);
  lines.push(`      FI[${q(`${d.fileIngestor}<br/>finmesh ingest`)}]`, '    end');
  lines.push(`    PS{{${q('Pub/Sub')}}}`);
  lines.push(`    subgraph lake[${q(d.lake)}]`);
  lines.push('      direction TB');
  for (const z of ['landing', 'bronze', 'silver', 'gold', 'quarantine']) lines.push(`      Z_${z}[(${q(`gs://…/${z}`)})]`);
  lines.push('    end');
  lines.push(`    BQ[[${q(`BigQuery<br/>${d.models}`)}]]`);
  lines.push(`    SQLDB[(${q(`Cloud SQL · PostgreSQL<br/>${d.metadataHolds}`)})]`);
  lines.push(`    subgraph obs[${q(d.observability)}]`);
  lines.push(`      PROM[${q(`Managed Prometheus<br/>${d.sloAlerts}`)}]`);
  lines.push(`      LOGS[${q('Cloud Logging')}]`);
  lines.push(`      LIN[${q('Data Lineage')}]`, '    end');
  lines.push(`    API[${q(`finmesh serve<br/>${d.governedApi}`)}]`);
  lines.push(`    subgraph mesh[${q(d.mesh)}]`);
  for (const dom of project.domains) {
    const n = project.products.filter((p) => p.domain === dom.name).length;
    lines.push(`      DOM_${nid(dom.name)}[${q(`${dom.name} · ${dom.config.owner.team}<br/>${d.products(n)}`)}]`);
  }
  lines.push('    end', '  end');
  lines.push(`  PBI([${q('Power BI')}])`);
  lines.push(
    '  APP --> COSMOS --> CFR --> PS --> Z_bronze',
    '  SFTP --> FI --> Z_landing --> Z_bronze',
    '  FI --> Z_quarantine',
    '  Z_bronze --> BQ --> Z_silver --> BQ --> Z_gold',
    '  Z_gold --> API --> PBI',
    '  CFR -.-> SQLDB',
    '  FI -.-> SQLDB',
    '  BQ -.-> SQLDB',
    '  CFR -.-> PROM',
    '  FI -.-> PROM',
    '  BQ -.-> PROM',
    '  API -.-> PROM',
    '  CFR -.-> LOGS',
    '  BQ -.-> LIN',
  );
  for (const dom of project.domains) lines.push(`  DOM_${nid(dom.name)} -.- BQ`);
  return `${lines.join('\n')}\n`;
}

function monitoringDiagram(project: Project, m: Messages): string {
  const d = m.diagram;
  const owners = [...new Set(project.domains.map((x) => x.config.onCall ?? x.config.owner.team))];
  const lines = ['flowchart LR'];
  lines.push(`  FM[${q('finmesh: stream, ingest, run, serve')}]`);
  lines.push(`  PROM[${q('Prometheus / Managed Prometheus')}]`);
  lines.push(`  RULES[${q('finmesh alerts')}]`);
  lines.push(`  AM[${q('Alertmanager / Cloud Monitoring')}]`);
  lines.push(`  LOGS[${q('Cloud Logging')}]`);
  lines.push(`  LIN[${q('Data Lineage / OpenLineage')}]`);
  lines.push(`  META[(${q(`metadata: ${d.metadataHolds}`)})]`);
  lines.push(`  SLO[${q('finmesh slo · finmesh docs')}]`);
  lines.push(`  subgraph oncall[${q(d.monOnCall)}]`);
  for (const o of owners) lines.push(`    OC_${nid(o)}([${q(o)}])`);
  lines.push('  end');
  lines.push(
    `  PROM -- ${q(d.monScrape)} --> FM`,
    `  RULES -- ${q(d.monRules)} --> PROM`,
    '  PROM --> AM',
    `  FM -- ${q(d.monLogs)} --> LOGS`,
    `  FM -- ${q(d.monLineage)} --> LIN`,
    '  FM --> META --> SLO',
  );
  for (const o of owners) lines.push(`  AM -- ${q(d.monRoute)} --> OC_${nid(o)}`);
  return `${lines.join('\n')}\n`;
}

function transactionFlow(project: Project, source: Source, m: Messages): string {
  const d = m.diagram;
  const fed = productsFed(project, source);
  const kind = source.config.kind === 'cosmos' ? 'Cosmos DB' : source.config.kind === 'postgres' ? 'PostgreSQL' : 'SQLite outbox';
  const lines = ['sequenceDiagram', '  autonumber'];
  lines.push(`  participant APP as ${d.app}`);
  lines.push(`  participant SRC as ${kind} (${source.name})`);
  lines.push(`  participant RD as stream:${source.name}`);
  lines.push(`  participant BUS as bus (${project.config.bus?.kind ?? 'memory'})`);
  lines.push(`  participant BR as ${sqlName(source.dataset)}`);
  lines.push('  participant META as metadata');
  lines.push(`  participant SV as ${fed.direct.join(', ') || 'silver'}`);
  lines.push(`  participant GD as ${fed.downstream.slice(0, 3).join(', ') || 'gold'}`);
  lines.push('  participant BI as Power BI');
  lines.push(`  APP->>SRC: ${t(d.txApp)}`);
  lines.push(`  SRC->>RD: ${t(d.txFeed)}`);
  lines.push(`  RD->>BUS: ${t(d.txPublish)}`);
  lines.push(`  BUS->>BR: ${t(d.txCommit)}`);
  lines.push(`  BR->>META: ${t(d.txCheckpoint)}`);
  lines.push(`  BR->>SV: ${t(d.txModel)}`);
  lines.push(`  Note over SV: ${t(d.txGate)}`);
  lines.push(`  SV->>GD: ${t(d.txGold)}`);
  lines.push(`  GD->>BI: ${t(d.txRead)}`);
  return `${lines.join('\n')}\n`;
}

function fileFlow(project: Project, source: Source, m: Messages): string {
  const d = m.diagram;
  const fed = productsFed(project, source);
  const host = source.config.kind === 'sftp' ? source.config.host : source.name;
  const lines = ['sequenceDiagram', '  autonumber'];
  lines.push(`  participant SFTP as SFTP ${host}`);
  lines.push(`  participant IN as ingest:${source.name}`);
  lines.push('  participant LED as ledger');
  lines.push(`  participant LND as ${source.domain}_landing`);
  lines.push(`  participant BR as ${sqlName(source.dataset)}`);
  lines.push(`  participant QR as ${source.domain}_quarantine.${source.dataset.name}`);
  lines.push(`  participant PR as ${[...fed.direct, ...fed.downstream].slice(0, 3).join(', ') || 'products'}`);
  lines.push(`  IN->>SFTP: ${t(d.fileList)}`);
  lines.push(`  SFTP->>IN: ${t(d.fileGet)}`);
  lines.push(`  IN->>LED: ${t(d.fileHash)}`);
  lines.push(`  IN->>LND: ${t(d.fileLanding)}`);
  lines.push(`  Note over IN: ${t(d.fileParse)}`);
  lines.push(`  IN->>BR: ${t(d.fileGood)}`);
  lines.push(`  IN->>QR: ${t(d.fileBad)}`);
  lines.push(`  BR->>PR: ${t(d.fileModel)}`);
  lines.push(`  Note over PR: ${t(d.fileRecon)}`);
  return `${lines.join('\n')}\n`;
}
