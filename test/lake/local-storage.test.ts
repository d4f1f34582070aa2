import { join } from 'node:path';
import { LocalStorage } from '../../src/lake/local/local-storage.js';
import { describeLakeStorageContract } from '../contracts/lake-storage-contract.js';
import { tempDir } from '../helpers.js';

describeLakeStorageContract('local folder', async () => new LocalStorage(join(tempDir(), 'lake')));
