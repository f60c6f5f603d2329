// Torture: the power of the whole room cut `cuts` times. The gateway (crash-child.ts) and the
// simulated room (crash-sim-child.ts, with its state file) are killed with SIGKILL at the same
// moment, while the gateway vends, refunds, takes downlinks and sends batches; then both start
// again, the room from what its units kept (LW-485: credit and running cycles, per the spec;
// coin machines: their coins and cycles; the RIO-8 module itself restarts from defaults, its
// pulse counters at 0 and a train in progress cut off). A fifth of the cuts land while the
// gateway is still starting. The broker and the cloud stay up (they are elsewhere).
//
// After each restart has settled: the ledger file, audit chain and self-check are good, no vend
// is left unfinished, each LW-485's executed credits (read from the restarted machine) equal the
// ledger's captures, and each coin machine received the coins of its captured vends. At the end
// the same delivery checks as the crash scenario: every outbox record in the consumer exactly
// once, every top-up applied once, balances exact.
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareGatewayChild } from '../engine/child.js';
import { ROOM_ID, tempDir } from '../engine/harness.js';
import { numParam, type TortureModule, type TortureOptions, type TortureResult } from './types.js';
import { LedgerChecker, type MachineCounts } from './lib-checks.js';
import { CloudDriver, startCloud } from './lib-cloud.js';
import { spawnGateway, tallyOutcomes, untilCaptured, type GatewayChild } from './lib-gateway.js';
import { spawnSim, type SimChild } from './lib-power.js';
import { delay, seededRandom, withDeadline } from './lib-room.js';
import { finishAndCheck } from './lib-finish.js';
import { COINS_PER_PROGRAM, SEED_TOP_UPS, seedLedger } from './crash.js';

const GATEWAY_SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const SIM_SOURCE = fileURLToPath(new URL('./crash-sim-child.ts', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const READY_DEADLINE_MS = 30_000;
const TIME_SCALE = 20_000;

async function run(opts: TortureOptions): Promise<TortureResult> {
  const started = Date.now();
  const cuts = numParam(opts, 'cuts', 50, 8);
  const cutMaxMs = numParam(opts, 'cutMaxMs', 1500, 1500);
  const startupShare = numParam(opts, 'startupShare', 0.2, 0.2);
  // As in crash.ts: on a loaded machine every quick cut would land before a capture. The quick
  // run has only 8 cuts, so each of its lives sees one capture first (the child goes on vending
  // at every free machine, so the cut still lands mid-vend).
  const captureFirstShare = numParam(opts, 'captureFirstShare', 0, 1);
  const random = seededRandom(opts.seed);
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = tempDir('torture-power-');
  const dbPath = tmp.file('ledger.db');
  const statePath = tmp.file('room-state.json');
  const gwCmd = prepareGatewayChild(GATEWAY_SOURCE);
  const simCmd = prepareGatewayChild(SIM_SOURCE);
  seedLedger(dbPath, tmp.file('room-secret'));
  const cloud = await startCloud(tmp.file('cloud.db'));
  const driver = new CloudDriver(cloud, random, `p${opts.seed}`);
  const checker = new LedgerChecker(dbPath, ROOM_ID, COINS_PER_PROGRAM, 50, 'cut-trains');
  const violations: string[] = [];
  const outcomes = new Map<string, number>();
  let startupCuts = 0;
  let lateSettles = 0;
  let n = 0;
  const spawnNext = (): GatewayChild => spawnGateway(gwCmd, { dbPath, seed: ++n + opts.seed, mqttUrl: cloud.broker.url, configPublicKey: cloud.configPublicKey });
  const startSim = async (): Promise<{ sim: SimChild; port: number }> => {
    const sim = spawnSim(simCmd, { statePath, timeScale: TIME_SCALE });
    return { sim, port: await withDeadline(sim.port, 30_000, 'simulator listening') };
  };
  let room = await startSim();
  checker.base = await room.sim.counts();
  let next = spawnNext();
  driver.start(150);
  opts.log(`power-cut: ${cuts} cuts, seed ${opts.seed}`);
  /** The cut: both processes die at the same moment. */
  const cut = async (gw: GatewayChild): Promise<void> => {
    gw.kill();
    room.sim.kill();
    await Promise.all([gw.exited, room.sim.exited]);
  };
  try {
    for (let i = 0; i < cuts && violations.length < 20; i++) {
      const gw = next;
      next = spawnNext();
      gw.go(room.port);
      if (random() < startupShare) {
        await delay(Math.floor(random() * 800));
        await cut(gw);
        startupCuts++;
        checker.afterKill(`cut ${i} (start-up)`, violations);
        room = await startSim();
        continue;
      }
      const blocked = await withDeadline(gw.ready, READY_DEADLINE_MS, `gateway ${i} ready`);
      if (blocked !== '') {
        lateSettles++;
        const until = Date.now() + 20_000;
        while (checker.unfinished() > 0 && Date.now() < until) await delay(100);
      }
      const seen = violations.length;
      checker.afterStart(`start ${i}`, violations, await room.sim.counts());
      if (violations.length > seen || blocked !== '') writeFileSync(join(ARTIFACTS, `torture-power-start-${i}.log`), gw.stderr());
      gw.vend();
      if (random() < captureFirstShare) await untilCaptured(gw, 15_000);
      await delay(Math.floor(random() * cutMaxMs));
      await cut(gw);
      tallyOutcomes(gw, outcomes);
      checker.afterKill(`cut ${i}`, violations);
      room = await startSim();
    }
    await driver.stop();
    const counts = (): Promise<MachineCounts | null> => room.sim.counts();
    const fin = await finishAndCheck({
      next, simPort: room.port, checker, dbPath, driver, seedTopUps: SEED_TOP_UPS.length, counts, violations, log: opts.log,
      logName: 'torture-power-final.log', consumerDb: cloud.consumerDb, gatewayId: ROOM_ID, topUps: [...SEED_TOP_UPS, ...driver.topUps], outOfOrder: cloud.arrivals.outOfOrder,
    });
    next = fin.child;
    return {
      name: 'power-cut',
      violations,
      figures: {
        cuts,
        startupCuts,
        lateSettles,
        ...fin.figures,
        coinsGivenByCutTrains: checker.coinsUnaccounted,
        childOutcomes: JSON.stringify(Object.fromEntries(outcomes)),
        seconds: Math.round((Date.now() - started) / 1000),
      },
      notes: [`seed ${opts.seed}`, ...driver.errors.map((e) => `cloud publish failed: ${e}`)],
    };
  } finally {
    next.kill();
    room.sim.kill();
    await Promise.all([next.exited, room.sim.exited]);
    await driver.stop();
    await cloud.close();
    gwCmd.cleanup();
    simCmd.cleanup();
    tmp.cleanup();
  }
}

const powerCut: TortureModule = { name: 'power-cut', title: 'power cut of the whole room: gateway and machines killed together, both restarted from what they kept', run };
export default powerCut;
