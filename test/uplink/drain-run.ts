// One backlog drain, shared by test/uplink/backlog.test.ts and test/bench/drain.ts: n queued
// records go through the full path (ledger outbox → Uplink batches → Mosquitto → reference cloud
// consumer commits to SQLite and acks → ledger retires), then the very batch payloads the cloud
// received go through a bare MQTT.js QoS 1 loop (sequential `await publishAsync`) on the same
// broker. Correctness is checked (every seq stored once, in order, nothing left in the outbox);
// the rates are returned, never asserted.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import type { Broker } from '../helpers/mosquitto.js';
import { CloudConsumer } from '../../simulator/cloud/consumer.js';
import type { MqttConfigInput } from '../../gateway/uplink/config-schema.js';
import { enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

export interface DrainOptions {
  records: number;
  /** Put the ledger and the cloud's database on /dev/shm (fsync is then nearly free). */
  tmpfs: boolean;
  /** Overrides of the uplink's `batch` config block. */
  batch?: MqttConfigInput['batch'];
  /** The cloud consumer in a process of its own (as in production) instead of this one. */
  cloudProcess?: boolean;
  /** How many times the raw loop runs over the same payloads; the median is reported. */
  rawRounds?: number;
  log?: (line: string) => void;
}

export interface DrainResult {
  records: number;
  batches: number;
  bytes: number;
  oursMs: number;
  rawMs: number;
  oursPerSec: number;
  rawPerSec: number;
  ratio: number;
  duplicates: number;
  resends: number;
  /** CPU time per record, µs: this process during the drain (the gateway, and the cloud when inline). */
  oursCpuUsPerRecord: number;
  /** The cloud process's CPU per record, µs (NaN when the cloud ran inline). */
  cloudCpuUsPerRecord: number;
  /** This process's CPU per record in one raw round, µs. */
  rawCpuUsPerRecord: number;
  /** Empty when every record was stored once, in order, and the outbox is empty. */
  problems: string[];
}

/** Where the cloud runs: in this process, or a child that hands over its payloads at the end. */
interface CloudSide {
  /** Stops it; returns the batch payloads it received and its duplicate count. */
  finish(): Promise<{ payloads: Buffer[]; duplicates: number; cpuUs: number }>;
  /** The stored records, checked after finish(). */
  storedInOrder(n: number): boolean;
  close(): Promise<void>;
}

async function inlineCloud(url: string, dbPath: string): Promise<CloudSide> {
  const payloads: Buffer[] = [];
  const cloud = await makeConsumer(url, dbPath, { onBatchPayload: (p) => payloads.push(p) });
  return {
    finish: async () => ({ payloads, duplicates: cloud.stats.duplicates, cpuUs: NaN }),
    storedInOrder: (n) => storedInOrder(cloud, n),
    close: () => cloud.stop(),
  };
}

async function childCloud(url: string, dbPath: string, payloadFile: string): Promise<CloudSide> {
  const script = fileURLToPath(new URL('./child-cloud.ts', import.meta.url));
  // DRAIN_CLOUD_CPU_PROF=<dir> profiles the cloud process (--cpu-prof is refused in NODE_OPTIONS).
  const prof = process.env.DRAIN_CLOUD_CPU_PROF;
  const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), '--import', 'tsx', script, url, dbPath, payloadFile];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => out.includes('ready\n') || child.exitCode !== null, 'the cloud process', 30_000);
  if (!out.includes('ready\n')) throw new Error('the cloud process did not start');
  let reader: CloudConsumer | null = null;
  return {
    async finish() {
      child.kill('SIGTERM');
      await exited;
      const buf = readFileSync(payloadFile);
      const payloads: Buffer[] = [];
      for (let at = 0; at + 4 <= buf.length; ) {
        const len = buf.readUInt32BE(at);
        payloads.push(buf.subarray(at + 4, at + 4 + len));
        at += 4 + len;
      }
      const stats = JSON.parse(out.split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}') as { duplicates?: number; cpuUs?: number };
      return { payloads, duplicates: stats.duplicates ?? NaN, cpuUs: stats.cpuUs ?? NaN };
    },
    storedInOrder(n) {
      // Opened only to read the stored records (never started: no MQTT connection).
      reader ??= new CloudConsumer({ url, dbPath });
      return storedInOrder(reader, n);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await reader?.stop();
    },
  };
}

export async function drainOnce(broker: Broker, o: DrainOptions): Promise<DrainResult> {
  const dir = tempDir(o.tmpfs);
  const ledger = testLedger(dir.file('ledger.db'));
  const problems: string[] = [];
  enqueue(ledger, o.records);
  const cloud = o.cloudProcess ? await childCloud(broker.url, dir.file('cloud.db'), dir.file('payloads.bin')) : await inlineCloud(broker.url, dir.file('cloud.db'));
  const up = makeUplink(ledger, broker.url, {}, { batch: { ackTimeoutMs: 5000, ackTimeoutMaxMs: 20_000, ...o.batch } });
  const raw = mqtt.connect(broker.url, { protocolVersion: 5, clientId: `raw-bench-${process.pid}` });
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await up.start();
    // The uplink's own view of the ledger watermark: polling outbox.stats() (a COUNT over the
    // backlog) every 10 ms would cost the drain it measures.
    await waitFor(() => up.stats().ackedSeq >= o.records, 'backlog drained', 600_000);
    const oursMs = performance.now() - t0;
    const cpuOurs = process.cpuUsage(cpu0);
    const resends = up.stats().resends;
    await up.stop();
    const { payloads, duplicates, cpuUs: cloudCpuUs } = await cloud.finish();
    if (!cloud.storedInOrder(o.records)) problems.push('the cloud did not store every seq exactly once, in order, with its payload');
    const st = ledger.outbox.stats();
    if (st.ackedSeq !== o.records || st.depth !== 0) problems.push(`ledger watermark ${st.ackedSeq} with ${st.depth} left, expected ${o.records} with none left`);

    await new Promise<void>((resolve) => (raw.connected ? resolve() : raw.once('connect', () => resolve())));
    // The raw loop gets the bytes of each distinct batch once (a resend is not work it should do).
    const seen = new Set<string>();
    const unique = payloads.filter((p) => {
      const key = p.subarray(0, 200).toString('latin1');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const times: number[] = [];
    const rounds = o.rawRounds ?? 3;
    const cpuRaw0 = process.cpuUsage();
    for (let r = 0; r < rounds; r++) {
      const t1 = performance.now();
      for (const p of unique) await raw.publishAsync('bench/raw', p, { qos: 1 });
      times.push(performance.now() - t1);
    }
    const cpuRaw = process.cpuUsage(cpuRaw0);
    times.sort((a, b) => a - b);
    const rawMs = times[Math.floor(times.length / 2)] ?? NaN;
    const bytes = unique.reduce((s, p) => s + p.length, 0);
    const oursPerSec = (o.records / oursMs) * 1000;
    const rawPerSec = (o.records / rawMs) * 1000;
    const res: DrainResult = {
      records: o.records,
      batches: unique.length,
      bytes,
      oursMs,
      rawMs,
      oursPerSec,
      rawPerSec,
      ratio: oursPerSec / rawPerSec,
      duplicates,
      resends,
      oursCpuUsPerRecord: (cpuOurs.user + cpuOurs.system) / o.records,
      cloudCpuUsPerRecord: cloudCpuUs / o.records,
      rawCpuUsPerRecord: (cpuRaw.user + cpuRaw.system) / rounds / o.records,
      problems,
    };
    o.log?.(
      `drain: ${o.records} records in ${unique.length} batches (${(bytes / 1e6).toFixed(1)} MB): ours ${oursPerSec.toFixed(0)} records/s (${oursMs.toFixed(0)} ms), raw QoS 1 loop ${rawPerSec.toFixed(0)} records/s (${rawMs.toFixed(0)} ms), ours/raw ${res.ratio.toFixed(3)}; CPU µs/record: ours ${res.oursCpuUsPerRecord.toFixed(2)}, cloud ${res.cloudCpuUsPerRecord.toFixed(2)}, raw ${res.rawCpuUsPerRecord.toFixed(2)}; duplicates ${res.duplicates}, resends ${res.resends}`,
    );
    return res;
  } finally {
    await raw.endAsync(true);
    await up.stop();
    await cloud.close();
    ledger.close();
    dir.cleanup();
  }
}
