import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GcsStorage, SHA256_METADATA } from '../../src/lake/gcs/gcs-storage.js';
import { describeLakeStorageContract, type ReadObject } from '../contracts/lake-storage-contract.js';
import { createBucket, FAKE_GCS_BIN, gcsClient, INSTALL_HINT, type StandIn, startFakeGcs } from '../gcp-stand-ins.js';
import { skipUnless } from '../launchers.js';

// The GCS adapter through the real client library against fake-gcs-server (the Cloud Storage JSON API).
const skip = skipUnless(FAKE_GCS_BIN !== undefined, 'fake-gcs-server', INSTALL_HINT);
let gcs: StandIn | undefined;
let n = 0;
before(async () => {
  if (skip.skip) return;
  gcs = await startFakeGcs();
  process.env.STORAGE_EMULATOR_HOST = gcs.url;
});
after(async () => {
  await gcs?.stop();
});

/** Reads an object through the Cloud Storage API (what BigQuery's load jobs read). */
const readObject: ReadObject = async (storage, key) => {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(storage.readPath(key));
  if (!m?.[1] || !m[2]) return undefined;
  try {
    if (!gcs) return undefined;
    const [bytes] = await (await gcsClient(gcs)).bucket(m[1]).file(m[2]).download();
    return bytes;
  } catch {
    return undefined;
  }
};

describeLakeStorageContract(
  'gcs (fake-gcs-server)',
  async () => {
    const bucket = `finmesh-lake-${process.pid}-${n++}`;
    if (gcs) await createBucket(gcs, bucket);
    return GcsStorage.create({ bucket, prefix: 'lake/' });
  },
  { ...skip, read: readObject, stagingInLake: false },
);

describe('gcs lake: landing keeps the bytes and their hash', skip, () => {
  it('stores the SHA-256 of a committed file in the object metadata, the bytes unchanged', async () => {
    const bucket = `finmesh-landing-${process.pid}`;
    if (gcs) await createBucket(gcs, bucket);
    const storage = await GcsStorage.create({ bucket });
    const dir = await storage.stagingDir();
    const body = Buffer.from('NSU;AUTH;AMOUNT\n000123;A1B2C3;10.50\n', 'latin1');
    writeFileSync(join(dir, 'f.csv'), body);
    const key = 'partners/landing/settlements/dt=2026-11-27/abcd-f.csv';
    await storage.commit(join(dir, 'f.csv'), key);
    await storage.discard(dir);
    if (!gcs) return;
    const file = (await gcsClient(gcs)).bucket(bucket).file(key);
    const [meta] = await file.getMetadata();
    assert.equal(meta.metadata?.[SHA256_METADATA], createHash('sha256').update(body).digest('hex'));
    const [bytes] = await file.download();
    assert.deepEqual(bytes, body);
  });

  it('says which bucket is missing', async () => {
    await assert.rejects(GcsStorage.create({ bucket: 'no-such-finmesh-bucket' }), /gs:\/\/no-such-finmesh-bucket does not exist/);
  });
});
