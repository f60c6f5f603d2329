// Measures (does not assert) the swipe -> credit latency: from the engine.cardSwipe call to the
// credit frame reaching the machine, over LATENCY_VENDS (default 200) card vends on the three
// LW-485 machines at once, the ledger on a real disk file at synchronous=FULL (the hold is one
// fsync'd transaction and the credit evidence another, both before the frame leaves). The
// timestamp is taken where the simulator receives the frame: loopback TCP adds well under 1 ms.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Daemon } from '../../gateway/daemon.js';
import type { ReplyPlan } from '../../simulator/index.js';
import { CARDS, seedCards, startAttendant, startDaemon, startRoom, testConfig, waitStatus, type TestRoom } from './harness.js';

const VENDS = Number(process.env.LATENCY_VENDS ?? '200');
const LW = [
  { machineId: 'W1', unit: 1 },
  { machineId: 'W2', unit: 2 },
  { machineId: 'D1', unit: 9 },
];
// The repository's disk, not a tmpfs: fsync must cost what it costs.
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
mkdirSync(ARTIFACTS, { recursive: true });
const dir = mkdtempSync(join(ARTIFACTS, 'latency-'));
let sim: TestRoom;
let daemon: Daemon;
let stopAttendant = (): void => undefined;
const arrived = new Map<number, (t: number) => void>();

before(async () => {
  sim = await startRoom({ timeScale: 20_000 });
  const serve = sim.room.serve.bind(sim.room);
  sim.room.serve = (unit: number, pdu: Buffer): ReplyPlan | null => {
    if (pdu[0] === 16 && pdu.readUInt16BE(1) === 256) {
      const t = performance.now();
      arrived.get(unit)?.(t);
      arrived.delete(unit);
    }
    return serve(unit, pdu);
  };
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: join(dir, 'ledger.db'), pollIntervalMs: 100 }));
  seedCards(daemon.ledger, { alice: 100_000_000 });
  stopAttendant = startAttendant(sim.room);
  for (const m of LW) await waitStatus(daemon, m.machineId, ['idle']);
});

after(async () => {
  stopAttendant();
  await daemon.stop();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

test(`swipe -> credit frame latency over ${VENDS} vends (measured, printed)`, { timeout: 300_000 }, async () => {
  const samples: number[] = [];
  let started = 0;
  // A measurement, not a wait: whatever is measured by then is reported.
  const until = Date.now() + 120_000;
  const worker = async (m: { machineId: string; unit: number }): Promise<void> => {
    while (started < VENDS && Date.now() < until) {
      const st = daemon.machines.state(m.machineId)?.status;
      if (st !== 'idle' && st !== 'done') {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      started++;
      let sent: number | null = null;
      arrived.set(m.unit, (t) => (sent = t));
      const t0 = performance.now();
      const o = await daemon.engine.cardSwipe({ readerId: `r-${m.machineId}`, uid: CARDS.alice.uid, machineId: m.machineId });
      arrived.delete(m.unit);
      if (o.result === 'captured' && sent !== null) samples.push(sent - t0);
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  await Promise.all(LW.map((m) => worker(m)));
  samples.sort((a, b) => a - b);
  const figures = {
    vends: samples.length,
    p50ms: Number(pct(samples, 50).toFixed(1)),
    p90ms: Number(pct(samples, 90).toFixed(1)),
    p99ms: Number(pct(samples, 99).toFixed(1)),
    maxms: Number((samples[samples.length - 1] ?? NaN).toFixed(1)),
    // storage/db.ts sets synchronous=FULL on every open and refuses to go on if it did not stick.
    ledger: 'file on the repository disk, WAL, synchronous=FULL',
    concurrentMachines: LW.length,
  };
  console.log(`# swipe->credit latency: ${JSON.stringify(figures)}`);
  assert.ok(samples.length >= Math.min(VENDS, 1) * 0.9, `enough captured vends measured (${samples.length})`);
});
