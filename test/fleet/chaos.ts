// The chaos half of npm run fleet, under the day's rate: a worker SIGKILLed and restarted,
// PostgreSQL crashed (immediate stop: recovery from the WAL), broker A down for the outage while
// its rooms vend, then both brokers restarted at once (the reconnect storm). Returns the figures'
// rows (drain times, ack latencies before and after) and the raw facts for fleet.json.
import { load1, ms, pct, type Row } from './figures.js';
import type { FleetRig } from './rig.js';

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

export interface ChaosOptions {
  dayRate: number;
  dayMs: number;
  outageMs: number;
}

export async function runChaos(rig: FleetRig, o: ChaosOptions, say: (s: string) => void): Promise<{ rows: Row[]; facts: Record<string, unknown> }> {
  const N = rig.o.gateways;
  const L: Record<string, string> = {};
  await rig.rate(o.dayRate, 'before');
  await sleep(Math.min(o.dayMs, 30_000));
  // Drained first, so 'before' measures the quiet fleet, not records caught in the chaos below.
  await rig.rate(0, 'idle');
  await rig.waitDrained(10 * 60_000, 'drained before the chaos');
  L.before = load1();
  await rig.rate(o.dayRate, 'chaos');
  const w0 = rig.workers[0];
  if (w0) {
    await w0.kill();
    await sleep(2000);
    w0.start();
    await w0.ready();
  }
  await rig.postgres.crash();
  await sleep(3000);
  await rig.postgres.start();
  say('worker killed and restarted, PostgreSQL crashed and restarted');
  const a = rig.brokers[0];
  if (a === undefined) throw new Error('no broker A');
  await a.kill();
  say(`broker A down for ${ms(o.outageMs)} while the rooms vend`);
  const outageEnd = performance.now() + o.outageMs;
  while (performance.now() < outageEnd) {
    rig.sampleMemory();
    await sleep(Math.min(5000, outageEnd - performance.now()));
  }
  L.outage = load1();
  const backlog = (await rig.stats()).gateways.reduce((n, g) => n + g.depth, 0);
  await a.start();
  await rig.rate(o.dayRate, 'after');
  const tUp = performance.now();
  await rig.waitConnected(10 * 60_000);
  const reconnectMs = performance.now() - tUp;
  const backlogDrainMs = await waitBacklog(rig, tUp);
  L.drain = load1();
  say(`broker A back: ${backlog} records waited; all reconnected in ${ms(reconnectMs)}, backlog drained in ${ms(backlogDrainMs)}`);
  await sleep(Math.min(o.dayMs, 30_000));
  L.after = load1();

  // ---- reconnect storm: both brokers restarted, every gateway back at once
  await rig.rate(o.dayRate, 'storm');
  const tStorm = performance.now();
  for (const b of rig.brokers) await b.restart();
  const stormConnectMs = await rig.waitConnected(10 * 60_000);
  L.storm = load1();
  // The rooms keep vending: 'drained' is every gateway down to a batch wait's worth, as after the outage.
  const stormDrainMs = (await waitBacklog(rig, tStorm)) - stormConnectMs;
  rig.sampleMemory();
  L.stormDrain = load1();
  say(`storm: all ${N} back in ${ms(stormConnectMs)}, drained ${ms(performance.now() - tStorm)} after the restart`);
  const s = await rig.stats();
  const before = s.latency.before ?? [];
  const after = s.latency.after ?? [];
  const rows: Row[] = [
    { figure: 'ack latency before outage p50 / p99', measured: `${ms(pct(before, 50))} / ${ms(pct(before, 99))}`, target: '—', ok: null, load: L.before },
    { figure: `outage ${ms(o.outageMs)}: backlog`, measured: `${backlog} records`, target: '—', ok: null, load: L.outage },
    { figure: 'backlog drained after broker back', measured: ms(backlogDrainMs), target: '< 2 min', ok: backlogDrainMs < 120_000, load: L.drain },
    { figure: 'ack latency after outage p50 / p99', measured: `${ms(pct(after, 50))} / ${ms(pct(after, 99))}`, target: '—', ok: null, load: L.after },
    { figure: `reconnect storm: all ${N} back`, measured: ms(stormConnectMs), target: '< 60 s', ok: stormConnectMs < 60_000, load: L.storm },
    { figure: 'storm: all backlogs drained', measured: ms(stormDrainMs + stormConnectMs), target: '—', ok: null, load: L.stormDrain },
  ];
  return { rows, facts: { chaosLoads: L, backlog, reconnectMs, backlogDrainMs, stormConnectMs, stormDrainMs, before: [pct(before, 50), pct(before, 99)], after: [pct(after, 50), pct(after, 99)] } };
}

/** Ms from `since` until every gateway is back to the records written after it (the old backlog gone). */
async function waitBacklog(rig: FleetRig, since: number): Promise<number> {
  for (;;) {
    const s = await rig.stats();
    // At the day's rate a gateway holds a record or two in flight; the backlog is gone when none holds more than a batch wait's worth.
    if (s.gateways.every((g) => g.depth <= 3)) return performance.now() - since;
    if (performance.now() - since > 30 * 60_000) throw new Error('backlog not drained in 30 min');
    rig.sampleMemory();
    await sleep(250);
  }
}
