// A laundry room with secure cards, end to end, as systemd runs it: the demo room simulated in this
// process over TCP (slow to show a command's result, so a SIGKILL can land between a hold and its
// capture), type S readers on socat ptys at W1 to W4, a type L reader at W5, a real Mosquitto, the
// operator's key file (mode 0600) named by the config, and the daemon (`bin/laundry-gateway.mjs
// run`) in a child process that the test kills and starts again on the same files.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import mqtt from 'mqtt';
import { SimRoom, demoRoomUnits } from '../../simulator/index.js';
import { DEMO_ROOM_ID, demoGatewayConfig } from '../../gateway/demo/room.js';
import { keyPairFromSeed } from '../../protocols/qr-token/index.js';
import { rawPublicKeyOf } from '../../protocols/qr-token/cose.js';
import { roomTopics } from '../../protocols/mqtt/topics.js';
import { WIRE_VERSION } from '../../protocols/mqtt/payloads.js';
import { encodeSunReaderLine } from '../../protocols/readers/sun-reader.js';
import { encodeLineReaderLine } from '../../protocols/readers/line-reader.js';
import Database from 'better-sqlite3';
import { openLedger, type Ledger } from '../../storage/index.js';
import { openLedgerReadOnly, type ReadOnlyLedger } from '../../storage/readonly.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { controlRequest } from '../../gateway/control/client.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { waitUntil } from '../cli/harness.js';
import { META_KEY_HEX, MASTER_KEY_HEX, SYSTEM_ID } from './vectors.js';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const BIN = join(ROOT, 'bin', 'laundry-gateway.mjs');

/** The type S readers, each at its own washer (a credited washer takes no second vend). */
export const SUN_READERS = ['W1', 'W2', 'W3', 'W4'] as const;
export type SunMachine = (typeof SUN_READERS)[number];

export interface UpRecord {
  seq: number;
  type: string;
  payload: Record<string, unknown>;
}

export interface AuditRow {
  seq: number;
  kind: string;
  reason: string | null;
  machine_id: string | null;
  card_mask: string | null;
  amount_cents: number | null;
  detail: string | null;
}

export interface SecureRoom {
  dir: string;
  dbPath: string;
  keyFile: string;
  room: SimRoom;
  broker: Broker;
  /** The cloud's Ed25519 key: signs the downlinks the config's configPublicKey checks. */
  cloudKey: KeyObject;
  /** Every record the gateway published on up/batch so far, by seq (resends once). */
  upRecords(): UpRecord[];
  /** Publishes a downlink envelope as the cloud would. */
  publishDown(name: 'cards' | 'keys', envelope: string): Promise<void>;
  /** Starts the daemon (again) on the same files; resolves once it is ready with every unit found. */
  startDaemon(): Promise<void>;
  /** The current daemon's log (pino JSON lines) and every earlier run's before it. */
  logs(): string;
  waitForLog(re: RegExp, what: string, ms?: number): Promise<void>;
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** One type S line at a machine's reader. */
  tap(machine: SunMachine, line: string): void;
  /** One UID at the type L reader at W5. */
  swipeW5(uid: string): void;
  /** The ledger file, read by a second, read-only connection while the daemon runs (WAL). */
  withLedger<T>(f: (l: ReadOnlyLedger) => T): T;
  /** The audit trail's rows, oldest first (read-only SQL: a test may look at the tables). */
  audit(): AuditRow[];
  close(): Promise<void>;
}

export async function startSecureRoom(o: { commandResultDelayMs: number; seed: (l: Ledger) => void; refusePlainCards?: boolean }): Promise<SecureRoom> {
  const dir = mkdtempSync(join(tmpdir(), 'lgw-secure-'));
  const room = new SimRoom({ units: demoRoomUnits(), timeScale: 1, logger: silentLogger(), commandResultDelayMs: o.commandResultDelayMs });
  room.start();
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  const broker = await startMosquitto();
  const ptys = new Map<string, PtyPair>();
  for (const m of [...SUN_READERS, 'W5']) ptys.set(m, await openPtyPair());
  const pty = (m: string): PtyPair => {
    const p = ptys.get(m);
    if (p === undefined) throw new Error(`no reader at ${m}`);
    return p;
  };
  const dbPath = join(dir, 'state', 'ledger.db');
  const socketPath = join(dir, 'run', 'control.sock');
  const keyFile = join(dir, 'secure-card-keys.json');
  writeFileSync(keyFile, JSON.stringify({ keys: [{ version: 1, metaKey: META_KEY_HEX, masterKey: MASTER_KEY_HEX, systemId: SYSTEM_ID }] }));
  chmodSync(keyFile, 0o600);
  const cloud = generateKeyPairSync('ed25519');
  const qr = keyPairFromSeed(new Uint8Array(32).fill(7));
  const demo = demoGatewayConfig({
    tcpPort: port,
    dbPath,
    qrPublicKey: Buffer.from(qr.publicKey).toString('base64url'),
    mqtt: { url: broker.url, configPublicKey: Buffer.from(rawPublicKeyOf(cloud.publicKey)).toString('base64url') },
  });
  const config = {
    ...demo,
    buses: demo.buses.map((b) => ({ ...b, replyTimeoutMs: 1000 })),
    readers: [
      ...SUN_READERS.map((m) => ({ id: `s-${m}`, type: 'sun', path: pty(m).a, attachedTo: { machineId: m }, pollMs: 50 })),
      { id: 'l-W5', type: 'line', path: pty('W5').a, attachedTo: { machineId: 'W5' }, pollMs: 50 },
    ],
    control: { socketPath },
    secureCards: { keyFile, refusePlainCards: o.refusePlainCards ?? false },
  };
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const seedLedger = openLedger({ path: dbPath, roomSecret: loadOrCreateRoomSecret(join(dirname(dbPath), 'room-secret')), gatewayId: DEMO_ROOM_ID, bootId: 'seed', clock: systemClock, logger: silentLogger() });
  o.seed(seedLedger);
  seedLedger.close();

  // The cloud side: every up/batch record, by seq.
  const topics = roomTopics(DEMO_ROOM_ID);
  const records = new Map<number, UpRecord>();
  const client = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 100 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topics.up('batch'), { qos: 1 });
  // It stores what it gets and acks the stream up to where it holds it without a hole, as the
  // contract says (docs/mqtt-contract.md), so the gateway's window keeps moving.
  let acked = 0;
  client.on('message', (_t, buf) => {
    const b = JSON.parse(buf.toString('utf8')) as { batchId: string; toSeq: number; afterSeq?: number; records: UpRecord[] };
    for (const r of b.records) records.set(r.seq, r);
    if (b.afterSeq === undefined || b.afterSeq <= acked) acked = Math.max(acked, b.toSeq);
    void client.publishAsync(topics.down('ack'), JSON.stringify({ v: WIRE_VERSION, gatewayId: DEMO_ROOM_ID, batchId: b.batchId, upToSeq: acked }), { qos: 1 });
  });

  let log = '';
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const running = (): boolean => child !== null && child.exitCode === null && child.signalCode === null;
  const kill = async (signal: 'SIGKILL' | 'SIGTERM'): Promise<void> => {
    if (child && running()) {
      child.kill(signal);
      await exited;
    }
    child = null;
  };
  const write = (m: string, bytes: Uint8Array): void => writeFileSync(pty(m).b, bytes);

  const rig: SecureRoom = {
    dir,
    dbPath,
    keyFile,
    room,
    broker,
    cloudKey: cloud.privateKey,
    upRecords: () => [...records.values()].sort((a, b) => a.seq - b.seq),
    publishDown: async (name, envelope) => {
      await client.publishAsync(topics.down(name), envelope, { qos: 1 });
    },
    startDaemon: async () => {
      const runStart = log.length;
      const c = spawn(process.execPath, [BIN, 'run', '--config', configPath], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      exited = new Promise((resolve) => c.once('exit', (code, sig) => { log += `\nEXIT code=${String(code)} signal=${String(sig)}\n`; resolve(); }));
      c.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
      c.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
      await waitUntil(
        async () => {
          if (!running()) throw new Error(`the daemon exited during start-up:\n${log.slice(runStart)}`);
          const r = await controlRequest({ socketPath, timeoutMs: 2000 }, { cmd: 'status' });
          const mine = log.slice(runStart);
          return r.kind === 'ok' && r.result.buses.every((b) => b.unitsDiscovered === b.unitsConfigured) && /"msg":"ready"/.test(mine) && (mine.match(/"msg":"reader up"/g) ?? []).length === SUN_READERS.length + 1;
        },
        'the daemon to be ready with every unit and reader',
        60_000,
      );
    },
    logs: () => log,
    waitForLog: (re, what, ms) => waitUntil(() => re.test(log), `${what} in the daemon log:\n${log.slice(-3000)}`, ms),
    kill,
    tap: (m, line) => write(m, encodeSunReaderLine(line)),
    swipeW5: (uid) => write('W5', encodeLineReaderLine(uid)),
    withLedger: (f) => {
      const l = openLedgerReadOnly({ path: dbPath, gatewayId: DEMO_ROOM_ID, roomSecretPath: join(dirname(dbPath), 'room-secret') });
      try {
        return f(l);
      } finally {
        l.close();
      }
    },
    audit: () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return db.prepare('SELECT seq, kind, reason, machine_id, card_mask, amount_cents, detail FROM audit ORDER BY seq').all() as AuditRow[];
      } finally {
        db.close();
      }
    },
    close: async () => {
      await kill('SIGKILL');
      await client.endAsync(true);
      for (const p of ptys.values()) await p.close();
      await broker.close();
      await room.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
