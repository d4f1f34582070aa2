// The bench's rows, in the order they run. Adding a row: a module exporting a `BenchRow`, and a line here.
import type { BenchRow } from '../harness.js';
import { bigQueryLoad, bigQueryRun } from './bigquery.js';
import { cliHelp, cliQuery } from './cli-start.js';
import { consolePages } from './console.js';
import { csv } from './csv.js';
import { eventGold } from './event-gold.js';
import { ingestMemory1M, ingestMemory5M } from './ingest-memory.js';
import { checks, models } from './models.js';
import { ndjsonBronze } from './ndjson-bronze.js';
import { sftp } from './sftp.js';
import { streamEmbedded, streamKafka, streamNats } from './stream.js';
import { streamLatency } from './stream-latency.js';

export const ROWS: BenchRow[] = [
  cliHelp,
  cliQuery,
  ndjsonBronze,
  streamEmbedded,
  streamNats,
  streamKafka,
  streamLatency,
  eventGold,
  sftp,
  csv,
  models,
  checks,
  bigQueryLoad,
  bigQueryRun,
  ingestMemory1M,
  ingestMemory5M,
  consolePages,
];
