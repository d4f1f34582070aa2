import type { Source } from '../../config/project.js';
import type { SourceConfig } from '../../config/schema.js';

/** The source kinds read through a `FileSource`; `createFileSource` has an adapter for each. */
export const FILE_SOURCE_KINDS = ['sftp'] as const;
export type FileSourceKind = (typeof FILE_SOURCE_KINDS)[number];
/** The config of a file source: where files are and how to take them (path, pattern, format, afterCommit…). */
export type FileSourceConfig = Extract<SourceConfig, { kind: FileSourceKind }>;
export type FileSourceSpec = Source & { config: FileSourceConfig };

export function isFileSource(source: Source): source is FileSourceSpec {
  return (FILE_SOURCE_KINDS as readonly string[]).includes(source.config.kind);
}
