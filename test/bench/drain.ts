// Issue 8, item 3: backlog drain. Queued records go through the full path (ledger outbox →
// Uplink batches → local Mosquitto → reference cloud consumer stores them and sends
// application acks → ledger retires), against a raw MQTT.js QoS 1 publish loop of the same
// batch payloads on the same broker in the same run. Parameters (--set drain.<key>=v):
//   records   queued records (default 100000; quick 10000)
//   tmpfs     1 (default): ledger and cloud database on /dev/shm; 0: on the real disk (os.tmpdir)
//   window    batches in flight (default: the config default, batch.window)
//   cloud     1 (default): the cloud consumer in a process of its own, as in production;
//             0: in the bench's process, sharing its event loop with the gateway
//   rawRounds raw loop repetitions, median reported (default 3)
import { startMosquitto } from '../helpers/mosquitto.js';
import { drainOnce } from '../uplink/drain-run.js';
import type { BenchModule, BenchOptions, BenchResult } from './types.js';

function num(p: ReadonlyMap<string, string>, key: string, dflt: number): number {
  const s = p.get(key);
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new Error(`drain.${key}: not a number: ${s}`);
  return n;
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const records = num(opts.params, 'records', opts.quick ? 10_000 : 100_000);
  const tmpfs = num(opts.params, 'tmpfs', 1) !== 0;
  const window = opts.params.has('window') ? num(opts.params, 'window', 1) : undefined;
  const cloudProcess = num(opts.params, 'cloud', 1) !== 0;
  const broker = await startMosquitto();
  try {
    const r = await drainOnce(broker, {
      records,
      tmpfs,
      cloudProcess,
      rawRounds: num(opts.params, 'rawRounds', 3),
      batch: window === undefined ? {} : { window },
      log: opts.log,
    });
    if (r.problems.length > 0) throw new Error(`drain delivered wrongly: ${r.problems.join('; ')}`);
    return {
      name: 'drain',
      figures: [
        { label: `backlog drain, ours (${records} records, full path with acks)`, value: Math.round(r.oursPerSec), unit: 'records/s' },
        { label: 'raw MQTT.js QoS 1 loop, same payloads, same broker', value: Math.round(r.rawPerSec), unit: 'records/s' },
        { label: 'drain ratio ours / raw', value: r.ratio, unit: 'ratio', target: '≥ 0.5', pass: r.ratio >= 0.5 },
        // CPU per record holds better than rates on a shared machine: where the time goes.
        { label: `CPU per record, ${cloudProcess ? 'gateway process' : 'gateway + cloud (one process)'}`, value: r.oursCpuUsPerRecord, unit: 'µs' },
        ...(cloudProcess ? [{ label: 'CPU per record, cloud consumer process', value: r.cloudCpuUsPerRecord, unit: 'µs' }] : []),
        { label: 'CPU per record, raw loop', value: r.rawCpuUsPerRecord, unit: 'µs' },
      ],
      notes: [
        `${r.batches} batches, ${(r.bytes / 1e6).toFixed(1)} MB; ours ${r.oursMs.toFixed(0)} ms, raw ${r.rawMs.toFixed(0)} ms (median of the raw rounds)`,
        `ledger and cloud database on ${tmpfs ? '/dev/shm (tmpfs)' : 'the real disk'}, both synchronous=FULL; Mosquitto with set_tcp_nodelay; ${cloudProcess ? 'gateway and raw loop in the bench process, the cloud consumer in a process of its own' : 'gateway, cloud consumer and raw loop in one Node process'}; batch.window ${window ?? 'default'}`,
        `duplicates stored by the cloud: ${r.duplicates}; batch resends: ${r.resends}`,
      ],
    };
  } finally {
    await broker.close();
  }
}

const bench: BenchModule = { name: 'drain', title: 'Backlog drain vs a raw QoS 1 loop', run };
export default bench;
