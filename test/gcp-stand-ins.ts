// Local stand-ins for Google Cloud that speak its real APIs, started on free loopback ports for integration tests:
// fake-gcs-server (Cloud Storage JSON API, filesystem backend), Google's pstest (Pub/Sub gRPC API) and the PyPI
// BigQuery emulator `bqemulator` (REST API). `.ci/run` installs them under .cache/ (see scripts/install-gcp-stand-ins.sh);
// without them a test skips with a message, or fails under FINMESH_REQUIRE_SERVICES=1.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, waitFor } from './basics.js';
import { freePort, portOpen } from './launchers.js';

const GO_BIN = join(ROOT, '.cache/go/bin');
const BQEMU = join(ROOT, '.cache/bqemu/bin/bqemulator');

export const FAKE_GCS_BIN = existsSync(join(GO_BIN, 'fake-gcs-server')) ? join(GO_BIN, 'fake-gcs-server') : undefined;
export const PSTEST_BIN = existsSync(join(GO_BIN, 'pstest')) ? join(GO_BIN, 'pstest') : undefined;
export const BQEMU_BIN = existsSync(BQEMU) ? BQEMU : undefined;
export const INSTALL_HINT = 'bash scripts/install-gcp-stand-ins.sh (Go and Python from the registries; .ci/run does it)';

export interface StandIn {
  port: number;
  /** `http://127.0.0.1:PORT` (pstest: `127.0.0.1:PORT`, the form PUBSUB_EMULATOR_HOST takes). */
  url: string;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
}

async function launch(bin: string, args: string[], port: number, what: string, env: NodeJS.ProcessEnv = {}): Promise<StandIn> {
  let log = '';
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout?.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  child.stderr?.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${log}`);
      return (await portOpen(port)) ? true : undefined;
    },
    60_000,
    `${what} to listen on ${port}`,
  );
  return { port, url: `http://127.0.0.1:${port}`, stop: stopper(child) };
}

/** fake-gcs-server over HTTP with its filesystem backend: objects are files under `root/<bucket>/<name>`. */
export async function startFakeGcs(): Promise<StandIn & { root: string; emulatorHost: string }> {
  if (!FAKE_GCS_BIN) throw new Error('fake-gcs-server not found');
  const root = join(tempDir('fake-gcs-'), 'data');
  mkdirSync(root);
  const port = await freePort();
  const args = ['-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-backend', 'filesystem'];
  args.push('-filesystem-root', root, '-public-host', `127.0.0.1:${port}`, '-log-level', 'warn');
  const s = await launch(FAKE_GCS_BIN, args, port, 'fake-gcs-server');
  return { ...s, root, emulatorHost: s.url };
}

/** Creates a bucket on fake-gcs-server (what `finmesh iac terraform` does on Google Cloud). */
export async function createBucket(gcs: StandIn, bucket: string): Promise<void> {
  const r = await fetch(`${gcs.url}/storage/v1/b?project=finmesh-test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: bucket }),
  });
  if (!r.ok && r.status !== 409) throw new Error(`cannot create bucket ${bucket}: ${r.status} ${await r.text()}`);
}

/** Google's in-memory Pub/Sub server (test/pstest wraps cloud.google.com/go/pubsub/v2/pstest). */
export async function startPstest(): Promise<StandIn> {
  if (!PSTEST_BIN) throw new Error('pstest not found');
  const port = await freePort();
  const s = await launch(PSTEST_BIN, ['-port', String(port)], port, 'pstest');
  return { ...s, url: `127.0.0.1:${port}` };
}

/**
 * The BigQuery emulator (REST), in memory. `gcsRoot` is fake-gcs-server's filesystem root: `gs://bucket/path` loads
 * read the objects it serves.
 */
export async function startBigQueryEmulator(options: { project: string; gcsRoot?: string }): Promise<StandIn> {
  if (!BQEMU_BIN) throw new Error('bqemulator not found');
  const port = await freePort();
  const grpc = await freePort();
  const args = ['start', '--rest-port', String(port), '--grpc-port', String(grpc), '--project', options.project, '--log-level', 'warning'];
  return launch(BQEMU_BIN, args, port, 'bqemulator', options.gcsRoot ? { BQEMU_GCS_LOCAL_ROOT: options.gcsRoot } : {});
}

/** A Cloud Storage client pointed at fake-gcs-server, as the adapter builds one from STORAGE_EMULATOR_HOST. */
export async function gcsClient(gcs: StandIn): Promise<import('@google-cloud/storage').Storage> {
  const { Storage } = await import('@google-cloud/storage');
  const client = new Storage({ apiEndpoint: gcs.url, projectId: 'finmesh-test' });
  client.baseUrl = `${gcs.url}/storage/v1`;
  return client;
}
