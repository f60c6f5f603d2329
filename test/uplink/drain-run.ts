// One backlog drain, shared by test/uplink/backlog.test.ts and test/bench/drain.ts: n queued
// records go through the full path (ledger outbox → Uplink batches → Mosquitto → reference cloud
// consumer commits to SQLite and acks → ledger retires), then the very batch payloads the cloud
// received go through a bare MQTT.js QoS 1 loop (sequential `await publishAsync`) on the same
// broker. Correctness is checked (every seq stored once, in order, nothing left in the outbox);
// the rates are returned, never asserted.
import mqtt from 'mqtt';
import type { Broker } from '../helpers/mosquitto.js';
import type { MqttConfigInput } from '../../gateway/uplink/config-schema.js';
import { enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

export interface DrainOptions {
  records: number;
  /** Put the ledger and the cloud's database on /dev/shm (fsync is then nearly free). */
  tmpfs: boolean;
  /** Overrides of the uplink's `batch` config block. */
  batch?: MqttConfigInput['batch'];
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
  /** Empty when every record was stored once, in order, and the outbox is empty. */
  problems: string[];
}

export async function drainOnce(broker: Broker, o: DrainOptions): Promise<DrainResult> {
  const dir = tempDir(o.tmpfs);
  const ledger = testLedger(dir.file('ledger.db'));
  const payloads: Buffer[] = [];
  const problems: string[] = [];
  enqueue(ledger, o.records);
  const cloud = await makeConsumer(broker.url, dir.file('cloud.db'), {
    onBatchPayload: (p) => payloads.push(p),
  });
  const up = makeUplink(ledger, broker.url, {}, { batch: { ackTimeoutMs: 5000, ackTimeoutMaxMs: 20_000, ...o.batch } });
  const raw = mqtt.connect(broker.url, { protocolVersion: 5, clientId: `raw-bench-${process.pid}` });
  try {
    const t0 = performance.now();
    await up.start();
    // The uplink's own view of the ledger watermark: polling outbox.stats() (a COUNT over the
    // backlog) every 10 ms would cost the drain it measures.
    await waitFor(() => up.stats().ackedSeq >= o.records, 'backlog drained', 600_000);
    const oursMs = performance.now() - t0;
    if (!storedInOrder(cloud, o.records)) problems.push('the cloud did not store every seq exactly once, in order, with its payload');
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
    for (let r = 0; r < (o.rawRounds ?? 3); r++) {
      const t1 = performance.now();
      for (const p of unique) await raw.publishAsync('bench/raw', p, { qos: 1 });
      times.push(performance.now() - t1);
    }
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
      duplicates: cloud.stats.duplicates,
      resends: up.stats().resends,
      problems,
    };
    o.log?.(
      `drain: ${o.records} records in ${unique.length} batches (${(bytes / 1e6).toFixed(1)} MB): ours ${oursPerSec.toFixed(0)} records/s (${oursMs.toFixed(0)} ms), raw QoS 1 loop ${rawPerSec.toFixed(0)} records/s (${rawMs.toFixed(0)} ms), ours/raw ${res.ratio.toFixed(3)}; duplicates ${res.duplicates}, resends ${res.resends}`,
    );
    return res;
  } finally {
    await raw.endAsync(true);
    await up.stop();
    await cloud.stop();
    ledger.close();
    dir.cleanup();
  }
}
