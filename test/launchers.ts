// Starts real servers for integration tests on free loopback ports, and stops them after.
// A missing binary skips the test with a message (or fails it under FINMESH_REQUIRE_SERVICES=1, as in CI).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, waitFor } from './basics.js';

export const REQUIRE_SERVICES = process.env.FINMESH_REQUIRE_SERVICES === '1';

/** Finds a server binary; undefined when absent. */
export function findBinary(name: string, extraDirs: string[] = []): string | undefined {
  for (const dir of [...extraDirs, '/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** `{ skip }` for node:test when a server is missing; throws instead under FINMESH_REQUIRE_SERVICES=1. */
export function skipUnless(available: boolean, server: string, howToStart: string): { skip?: string } {
  if (available) return {};
  const message = `${server} not found — install it (${howToStart}) to run this test`;
  if (REQUIRE_SERVICES) throw new Error(`FINMESH_REQUIRE_SERVICES=1 but ${message}`);
  return { skip: message };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export interface Launched {
  port: number;
  url: string;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
      setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
    });
}

async function started(child: ChildProcess, port: number, what: string, log: () => string): Promise<void> {
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${log()}`);
        return (await portOpen(port)) ? true : undefined;
      },
      30_000,
      `${what} to listen on ${port}`,
    );
  } catch (e) {
    // A server that never listened is not left running behind the failed test (a JVM broker holds half a gigabyte).
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw e;
  }
}

export const NATS_BIN = findBinary('nats-server');

export async function startNats(): Promise<Launched & { restart(): Promise<void> }> {
  if (!NATS_BIN) throw new Error('nats-server not found');
  const bin = NATS_BIN;
  const port = await freePort();
  const store = tempDir('nats-');
  let log = '';
  const launch = async () => {
    const child = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr?.on('data', (d) => {
      log += d;
    });
    await started(child, port, 'nats-server', () => log);
    return stopper(child);
  };
  let stop = await launch();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    stop: () => stop(),
    // The same port and JetStream store: what was persisted before is there again.
    restart: async () => {
      await stop();
      stop = await launch();
    },
  };
}

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  return undefined;
}

export const POSTGRES_BIN_DIR = postgresBinDir();

/** A throwaway PostgreSQL cluster with logical replication enabled; run as the `postgres` user when we are root. */
export async function startPostgres(): Promise<Launched & { connectionString: string; restart(): Promise<void> }> {
  const bin = POSTGRES_BIN_DIR;
  if (!bin) throw new Error('PostgreSQL not found');
  const dir = tempDir('pg-');
  const data = join(dir, 'data');
  mkdirSync(data);
  const asRoot = process.getuid?.() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(data, uid, gid);
  }
  const ids = uid === undefined ? {} : { uid, gid };
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], {
    ...ids,
    stdio: 'ignore',
    cwd: dir,
  });
  const port = await freePort();
  let log = '';
  const launch = async () => {
    const child = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'wal_level=logical',
        '-c',
        'max_replication_slots=20',
        '-c',
        'max_wal_senders=20',
        '-c',
        'fsync=off',
      ],
      { ...ids, stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    );
    child.stderr?.on('data', (d) => {
      log += d;
    });
    const readyBefore = log.split('ready to accept connections').length;
    await started(child, port, 'postgres', () => log);
    // Listening is not accepting: after a restart PostgreSQL answers "the database system is starting up" until its
    // recovery ends, and says so in its log.
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${log}`);
        return log.split('ready to accept connections').length > readyBefore ? true : undefined;
      },
      30_000,
      `postgres on ${port} to accept connections`,
    ).catch((e: unknown) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw e;
    });
    // SIGQUIT is PostgreSQL's immediate shutdown (a crash; the next start recovers from the WAL). The others wait
    // for clients: smart for every session, fast for each walsender to send all WAL to a replication client that
    // may not be reading. SIGKILL of the postmaster alone would leave its children holding the data folder.
    return stopper(child, 'SIGQUIT', 30_000);
  };
  let stop = await launch();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    url,
    connectionString: url,
    stop: () => stop(),
    // A fast shutdown (SIGTERM) and a start on the same data folder and port, as a database restart in production.
    restart: async () => {
      await stop();
      stop = await launch();
    },
  };
}

/** Kafka jars fetched from Maven Central by `.ci/run` (see test/kafka/pom.xml). */
export const KAFKA_LIBS = join(fileURLToPath(new URL('..', import.meta.url)), '.cache/kafka/libs');
export const KAFKA_AVAILABLE =
  existsSync(join(KAFKA_LIBS)) && readdirSync(KAFKA_LIBS).some((f) => f.startsWith('kafka_2.13-')) && findBinary('java') !== undefined;

/**
 * A single-node Kafka broker in KRaft mode (broker and controller in one JVM). `stall()` SIGSTOPs it: its sockets
 * stay open and it answers nothing, as a hung broker does; `resume()` SIGCONTs it.
 */
export async function startKafka(): Promise<Launched & { brokers: string; stall(): void; resume(): void }> {
  const java = findBinary('java') as string;
  const dir = tempDir('kafka-');
  const port = await freePort();
  const controller = await freePort();
  const config = join(dir, 'server.properties');
  writeFileSync(
    config,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
    ].join('\n'),
  );
  const cp = `${KAFKA_LIBS}/*`;
  const jvm = ['-Xmx512m', '-XX:+UseSerialGC', '-cp', cp];
  execFileSync(java, [...jvm, 'kafka.tools.StorageTool', 'format', '-t', 'finmeshtestclusterid0A', '-c', config], { stdio: 'pipe' });
  let log = '';
  const child = spawn(java, [...jvm, 'kafka.Kafka', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => {
    log += d;
  });
  child.stderr?.on('data', (d) => {
    log += d;
  });
  await started(child, port, 'kafka', () => log.slice(-2000));
  const stop = stopper(child);
  return {
    port,
    url: `127.0.0.1:${port}`,
    brokers: `127.0.0.1:${port}`,
    stall: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    // A stalled broker takes no SIGTERM until it runs again.
    stop: async () => {
      child.kill('SIGCONT');
      await stop();
    },
  };
}

export const PROMTOOL_BIN = findBinary('promtool');
export const PROMETHEUS_BIN = findBinary('prometheus');

/** A Prometheus server scraping `targets` every second and evaluating `rulesFile` every second. */
export async function startPrometheus(targets: string[], rulesFile: string): Promise<Launched> {
  if (!PROMETHEUS_BIN) throw new Error('prometheus not found');
  const dir = tempDir('prom-');
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${rulesFile}`,
      'scrape_configs:',
      '  - job_name: finmesh',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    ].join('\n'),
  );
  let log = '';
  const child = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.on('data', (d) => {
    log += d;
  });
  await started(child, port, 'prometheus', () => log.slice(-2000));
  return { port, url: `http://127.0.0.1:${port}`, stop: stopper(child) };
}

export const SSHD_BIN = findBinary('sshd');
const SFTP_SERVER = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server'].find((p) =>
  existsSync(p),
);

/**
 * OpenSSH's sshd on a loopback port, key authentication only, serving `root` as the SFTP user's home. Returns the
 * client key and the host key fingerprint to pin.
 */
export async function startSshd(): Promise<Launched & { user: string; clientKey: string; fingerprint: string; home: string }> {
  if (!SSHD_BIN || !SFTP_SERVER) throw new Error('sshd or sftp-server not found');
  const dir = tempDir('sshd-');
  const port = await freePort();
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  const fingerprint =
    execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host_key.pub')])
      .toString()
      .split(' ')[1] ?? '';
  writeFileSync(join(dir, 'authorized_keys'), execFileSync('cat', [join(dir, 'client_key.pub')]));
  const user = execFileSync('id', ['-un']).toString().trim();
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      `Subsystem sftp ${SFTP_SERVER}`,
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  let log = '';
  const child = spawn(SSHD_BIN, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr?.on('data', (d) => {
    log += d;
  });
  await started(child, port, 'sshd', () => log.slice(-2000));
  const home = join(dir, 'files');
  mkdirSync(home);
  return { port, url: `127.0.0.1:${port}`, user, clientKey: join(dir, 'client_key'), fingerprint, home, stop: stopper(child) };
}

/**
 * The FinOps Foundation's FOCUS validator (PyPI `focus-validator`), installed by `.ci/run` in a virtual environment
 * under `.cache/focus-validator` (it needs Python 3.12 or later).
 */
export const FOCUS_VALIDATOR = focusValidator();

function focusValidator(): { bin: string; packageDir: string } | undefined {
  const venv = join(fileURLToPath(new URL('..', import.meta.url)), '.cache/focus-validator');
  const bin = join(venv, 'bin/focus-validator');
  if (!existsSync(bin)) return undefined;
  const lib = join(venv, 'lib');
  const python = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('python3')) : undefined;
  const packageDir = python ? join(lib, python, 'site-packages') : undefined;
  return packageDir && existsSync(join(packageDir, 'focus_validator')) ? { bin, packageDir } : undefined;
}

/** The validator's verdict on a FOCUS file: its counts, and each rule that passed or failed. */
export interface FocusValidation {
  total: number;
  passed: Set<string>;
  failed: Map<string, string>;
  output: string;
}

/**
 * Validates a FOCUS CSV file against FOCUS 1.2 offline (the rules ship in the package), claiming `criteria` (its
 * applicability criteria). It runs from its package folder, where it finds its currency file, and exits 0 whether
 * rules fail or not: the verdict is read from its report.
 */
export function runFocusValidator(file: string, criteria: readonly string[]): FocusValidation {
  if (!FOCUS_VALIDATOR) throw new Error('focus-validator is not installed (.ci/run installs it)');
  const output = execFileSync(
    FOCUS_VALIDATOR.bin,
    ['--data-file', file, '--validate-version', '1.2', '--block-download', '--applicability-criteria', criteria.join(',')],
    { cwd: FOCUS_VALIDATOR.packageDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 },
  );
  const summary = /Total: (\d+) \| Pass: (\d+) \| Fail: (\d+)/.exec(output);
  if (!summary) throw new Error(`focus-validator printed no summary:\n${output.slice(0, 2000)}`);
  const passed = new Set<string>();
  const failed = new Map<string, string>();
  for (const m of output.matchAll(/^\S+ ([A-Za-z]+-[A-Z]-\d{3}-[A-Z]): (PASS|FAIL) +\((.*)\)$/gm)) {
    if (m[2] === 'PASS') passed.add(m[1] as string);
    else failed.set(m[1] as string, m[3] as string);
  }
  return { total: Number(summary[1]), passed, failed, output };
}
