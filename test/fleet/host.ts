// A gateway host: one process running many gateways, each with the real ledger (storage/) on
// its own file and the real uplink (gateway/uplink/) on its own MQTT connection, driven by a
// room's mix of records (room-activity.ts). The rig (rig.ts) commands it over IPC.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger } from '../../gateway/core/log.js';
import { mqttConfigSchema } from '../../gateway/uplink/config-schema.js';
import { Uplink } from '../../gateway/uplink/uplink.js';
import { openLedger, type Ledger } from '../../storage/index.js';
import type { HostCommand, HostInit, HostReply, HostStats } from './protocol.js';
import { RoomActivity, seededRng, type Rng } from './room-activity.js';

interface Gw {
  roomId: string;
  url: string;
  ledger: Ledger;
  uplink: Uplink;
  activity: RoomActivity;
  /** Seqs written and not yet acked, with when (ms, monotonic). */
  waiting: { seq: number; at: number; phase: string }[];
}

const logger = createLogger({ name: 'fleet-host', level: 'warn', destination: 2 });
let gws: Gw[] = [];
let rng: Rng = seededRng(1);
let phase = 'idle';
let perSec = 0;
let actions = 0;
let maxRss = 0;
const latency: Record<string, number[]> = {};
let tick: NodeJS.Timeout | null = null;

function init(m: HostInit): void {
  rng = seededRng(m.seed);
  gws = m.gateways.map((g, i) => {
    const ledger = openLedger({ path: join(m.dir, `${g.roomId}.db`), roomSecret: Buffer.alloc(32, 3), gatewayId: g.roomId, bootId: randomUUID(), clock: systemClock, logger });
    const uplink = new Uplink({ config: mqttConfigSchema.parse({ ...m.mqtt, url: g.url }), roomId: g.roomId, ledger, logger, clock: systemClock });
    return { roomId: g.roomId, url: g.url, ledger, uplink, activity: new RoomActivity(ledger, seededRng(m.seed * 100_003 + i)), waiting: [] };
  });
}

function act(g: Gw): void {
  g.activity.step();
  actions++;
  const last = g.ledger.outbox.stats().lastSeq;
  const tail = g.waiting[g.waiting.length - 1];
  if (tail === undefined || tail.seq < last) g.waiting.push({ seq: last, at: performance.now(), phase });
}

/** Every 50 ms: the acks that came in (latency samples) and this period's actions. */
function onTick(): void {
  const now = performance.now();
  for (const g of gws) {
    const acked = g.uplink.stats().ackedSeq;
    while (g.waiting.length > 0 && (g.waiting[0]?.seq ?? Infinity) <= acked) {
      const w = g.waiting.shift();
      if (w) (latency[w.phase] ??= []).push(now - w.at);
    }
    if (perSec > 0 && rng() < perSec * 0.05) act(g);
  }
  maxRss = Math.max(maxRss, process.memoryUsage().rss);
}

function stats(): HostStats {
  return {
    gateways: gws.map((g) => {
      const s = g.ledger.outbox.stats();
      const u = g.uplink.stats();
      return { roomId: g.roomId, lastSeq: s.lastSeq, ackedSeq: s.ackedSeq, depth: s.depth, connected: u.connected, inFlightBatches: u.inFlightBatches, inFlightToSeq: u.inFlight?.toSeq ?? null, capturedCents: g.activity.tally.capturedCents, topUpCents: g.activity.tally.topUpCents };
    }),
    latency,
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: maxRss,
    actions,
  };
}

async function handle(m: HostCommand): Promise<HostReply> {
  switch (m.cmd) {
    case 'init':
      init(m);
      return { ok: true, cmd: m.cmd };
    case 'start':
      for (const g of gws) await g.uplink.start();
      tick = setInterval(onTick, 50);
      return { ok: true, cmd: m.cmd };
    case 'rate':
      perSec = m.perGatewaySec;
      phase = m.phase;
      return { ok: true, cmd: m.cmd };
    case 'burst':
      phase = m.phase;
      for (let i = 0; i < m.actions; i++) for (const g of gws) if (m.onlyUrl === undefined || g.url === m.onlyUrl) act(g);
      return { ok: true, cmd: m.cmd };
    case 'pause':
      await Promise.all(gws.filter((g) => m.onlyUrl === undefined || g.url === m.onlyUrl).map((g) => g.uplink.stop()));
      return { ok: true, cmd: m.cmd };
    case 'resume':
      for (const g of gws) await g.uplink.start();
      return { ok: true, cmd: m.cmd };
    case 'reconnect':
      await Promise.all(gws.map((g) => g.uplink.stop()));
      for (const g of gws) await g.uplink.start();
      return { ok: true, cmd: m.cmd };
    case 'stats':
      return { ok: true, cmd: m.cmd, stats: stats() };
    case 'stop':
      if (tick) clearInterval(tick);
      await Promise.all(gws.map((g) => g.uplink.stop()));
      for (const g of gws) g.ledger.close();
      return { ok: true, cmd: m.cmd };
  }
}

process.on('message', (m: HostCommand) => {
  handle(m).then(
    (r) => process.send?.(r),
    (e: unknown) => process.send?.({ ok: false, cmd: m.cmd, error: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies HostReply),
  );
});
process.on('disconnect', () => process.exit(0));
