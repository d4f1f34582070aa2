import { after } from 'node:test';
import { GcsStorage } from '../../src/lake/gcs/gcs-storage.js';
import { describeLakeStorageContract, type ReadObject } from '../contracts/lake-storage-contract.js';

// The lake storage contract against a real Cloud Storage bucket, when one is given: FINMESH_GCS_BUCKET names a
// bucket that Application Default Credentials can write (the suite works under `finmesh-test-<pid>/` and deletes it).
const bucket = process.env.FINMESH_GCS_BUCKET;
const skip = bucket
  ? {}
  : { skip: 'set FINMESH_GCS_BUCKET (a bucket Application Default Credentials can write) to run against Cloud Storage' };
const root = `finmesh-test-${process.pid}/`;
let n = 0;

const readObject: ReadObject = async (storage, key) => {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(storage.readPath(key));
  if (!m?.[1] || !m[2]) return undefined;
  const { Storage } = await import('@google-cloud/storage');
  try {
    const client = new Storage();
    // As the adapter does: the client takes STORAGE_EMULATOR_HOST verbatim as its JSON API base.
    const emulator = process.env.STORAGE_EMULATOR_HOST?.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
    if (emulator) client.baseUrl = `${emulator}/storage/v1`;
    const [bytes] = await client.bucket(m[1]).file(m[2]).download();
    return bytes;
  } catch {
    return undefined;
  }
};

after(async () => {
  if (!bucket) return;
  const all = await GcsStorage.create({ bucket });
  await all.deletePrefix(root);
});

describeLakeStorageContract(
  'gcs (live Cloud Storage)',
  async () => GcsStorage.create({ bucket: bucket as string, prefix: `${root}${n++}/` }),
  {
    ...skip,
    read: readObject,
    stagingInLake: false,
  },
);
