import { resolve } from 'node:path';
import type { ProjectConfig } from '../config/schema.js';
import { LocalStorage } from './local/local-storage.js';
import type { LakeStorage } from './storage.js';

/**
 * Opens the lake the project configures: a folder (relative paths from the project root) or a Cloud Storage bucket,
 * whose client (`@google-cloud/storage`, Application Default Credentials, STORAGE_EMULATOR_HOST honoured) loads only
 * when chosen.
 */
export async function createStorage(config: ProjectConfig['lake'], projectRoot: string): Promise<LakeStorage> {
  switch (config.kind) {
    case 'local':
      return new LocalStorage(resolve(projectRoot, config.path));
    case 'gcs': {
      const { GcsStorage } = await import('./gcs/gcs-storage.js');
      return GcsStorage.create({ bucket: config.bucket, prefix: config.prefix, projectId: config.projectId });
    }
  }
}
