// A room's engine composed by hand (ledger, buildRoomBus, VendEngine) over the simulator, for
// tests that set what the daemon's config does not: the fault refund policy, engine timings.
import { openLedger, type Ledger } from '../../storage/index.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { buildRoomBus, type RoomBus } from '../../gateway/machines/room-bus.js';
import { machinesOf } from '../../gateway/engine/machine-access.js';
import { VendEngine, type VendEngineOptions } from '../../gateway/engine/vend-engine.js';
import { ROOM_ID, seedCards, startRoom, tempDir, testConfig, testLogger, waitFor, type TestRoom } from './harness.js';

export interface EngineRoom {
  sim: TestRoom;
  ledger: Ledger;
  bus: RoomBus;
  engine: VendEngine;
  close(): Promise<void>;
}

/** Simulator at `timeScale`, a seeded ledger, one bus, the engine started once `idle` machines are idle. */
export async function startEngineRoom(o: { timeScale: number; idle: string[]; engine: Pick<VendEngineOptions, 'faultRefund' | 'timings'> }): Promise<EngineRoom> {
  const tmp = tempDir();
  const sim = await startRoom({ timeScale: o.timeScale });
  const cfg = gatewayConfigSchema.parse(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') }));
  const logger = testLogger();
  const ledger = openLedger({ path: cfg.database.path, roomSecret: loadOrCreateRoomSecret(tmp.file('room-secret')), gatewayId: ROOM_ID, bootId: 'b1', clock: systemClock, logger });
  seedCards(ledger);
  const [busCfg] = cfg.buses;
  if (!busCfg) throw new Error('no bus');
  const bus = buildRoomBus(busCfg, { logger, clock: systemClock });
  const machines = machinesOf([bus.poller]);
  const engine = new VendEngine({ roomId: ROOM_ID, ledger, machines, pricing: cfg.pricing, risk: cfg.risk, exposure: (a) => ledger.unsyncedExposure(a), logger, clock: systemClock, ...o.engine });
  bus.start();
  await waitFor(() => o.idle.every((id) => machines.state(id)?.status === 'idle'), 'machines idle');
  await engine.start();
  return {
    sim,
    ledger,
    bus,
    engine,
    async close() {
      await engine.stop();
      await bus.stop();
      ledger.close();
      await sim.close();
      tmp.cleanup();
    },
  };
}
