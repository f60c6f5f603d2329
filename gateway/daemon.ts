// The composition root: builds every part from the config and passes each its logger, clock and
// options. Start order: ledger, buses and pollers, then the vend engine settles what a crash left
// unfinished, then the readers open. Stop order is the reverse, so no vend is left half-done.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GatewayConfig } from './config/schema.js';
import type { Clock } from './core/clock.js';
import { maskUid, type Logger } from './core/log.js';
import { loadOrCreateRoomSecret } from './core/room-secret.js';
import { openLedger, type Ledger } from '../storage/index.js';
import { buildRoomBus, type RoomBus } from './machines/room-bus.js';
import { machinesOf, type MachineAccess } from './engine/machine-access.js';
import { VendEngine, type VendOutcome } from './engine/vend-engine.js';
import { qrVend } from './engine/qr-vend.js';
import { SerialReader } from './readers/serial-reader.js';
import type { AttachedTo } from './readers/config-schema.js';
import { ClockFloor } from './tokens/clock-floor.js';
import { TokenVerifier } from './tokens/token-verifier.js';
import { Uplink } from './uplink/uplink.js';
import type { RemoteCommandTarget } from './uplink/downlinks.js';
import type { RoomConfig } from './uplink/room-config.js';
import { WebServer } from './web/server.js';
import { statusSourceFromDaemon } from './web/from-daemon.js';
import type { MachineState } from './machines/state.js';

const MAINTENANCE_EVERY_MS = 24 * 3600_000;

export interface DaemonDeps {
  logger: Logger;
  clock: Clock;
  /** Path of the room secret; default: beside the database. */
  roomSecretPath?: string;
}

export class Daemon {
  readonly bootId = randomUUID();
  readonly ledger: Ledger;
  readonly buses: RoomBus[];
  readonly machines: MachineAccess;
  readonly engine: VendEngine;
  readonly readers: SerialReader[];
  readonly clockFloor: ClockFloor;
  readonly uplink: Uplink | null;
  readonly web: WebServer;
  private readonly log: Logger;
  readonly tokens: TokenVerifier;
  private maintenanceTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly config: GatewayConfig,
    deps: DaemonDeps,
  ) {
    const { logger, clock } = deps;
    this.log = logger;
    const secret = loadOrCreateRoomSecret(deps.roomSecretPath ?? join(dirname(config.database.path), 'room-secret'));
    let floor: ClockFloor | null = null;
    this.ledger = openLedger({
      path: config.database.path,
      roomSecret: secret,
      gatewayId: config.room.id,
      bootId: this.bootId,
      clock,
      logger,
      clockTrusted: () => floor?.status().trusted ?? false,
    });
    const ledger = this.ledger;
    floor = new ClockFloor({
      clock,
      persistedSec: Math.floor(ledger.timeFloorMs() / 1000),
      persist: (sec) => {
        ledger.raiseTimeFloor(sec * 1000);
      },
      // systemd-timesyncd creates this file once the clock is synchronized.
      isNtpSynchronized: () => existsSync('/run/systemd/timesync/synchronized'),
      logger,
    });
    this.clockFloor = floor;
    this.tokens = new TokenVerifier({ roomId: config.room.id, floor, config: config.qrTokens, logger });

    this.buses = config.buses.map((b) => buildRoomBus(b, { logger, clock }));
    this.machines = machinesOf(this.buses.map((b) => b.poller));
    this.engine = new VendEngine({
      roomId: config.room.id,
      ledger,
      machines: this.machines,
      pricing: config.pricing,
      risk: config.risk,
      faultRefund: config.faultRefund,
      exposure: (accountId) => ledger.unsyncedExposure(accountId),
      logger,
      clock,
    });
    this.readers = config.readers.map((r) => new SerialReader(r, { logger, clock }));
    for (const bus of this.buses) {
      bus.poller.on('state', (e) => {
        this.log.info({ machineId: e.state.machineId, status: e.state.status, program: e.state.program, remainingSec: e.state.remainingSec, changed: e.changed }, 'machine state');
        // Status and fault changes are facts the cloud keeps; the countdown is only telemetry
        // (the uplink's retained snapshot), and writing it would wear the SD card.
        if (e.changed.includes('status') || e.changed.includes('fault')) {
          ledger.enqueueEvent('machine_state', { machineId: e.state.machineId, status: e.state.status, program: e.state.program, remainingSec: e.state.remainingSec, faultCode: e.state.faultCode, door: e.state.door, at: e.state.observedAt });
        }
      });
    }
    this.uplink = config.mqtt
      ? new Uplink({
          config: config.mqtt,
          roomId: config.room.id,
          ledger,
          logger,
          clock,
          subscribeStates: (listener) => this.subscribeStates(listener),
          currentStates: () => this.buses.flatMap((b) => b.poller.states()),
          busStats: () => Object.fromEntries(this.buses.map((b) => [b.config.id, b.master.stats()])),
          onRoomConfig: (cfg) => this.applyRoomConfig(cfg),
          onCloudTime: (sec) => {
            floor?.advance(sec, 'cloud');
          },
          commandTarget: this.remoteTarget(),
          nowSec: () => this.clockFloor.nowSec(),
        })
      : null;
    this.web = new WebServer({ config: config.web, source: statusSourceFromDaemon(this, { uplink: this.uplink }), logger, clock });
  }

  private subscribeStates(listener: (s: MachineState) => void): () => void {
    const handler = (e: { state: MachineState }): void => listener(e.state);
    for (const bus of this.buses) bus.poller.on('state', handler);
    return () => {
      for (const bus of this.buses) bus.poller.off('state', handler);
    };
  }

  /** Remote commands from the app, onto the machines' own commands. */
  private remoteTarget(): RemoteCommandTarget {
    return {
      command: (machineId, kind, args) => {
        if (!this.machines.has(machineId)) return Promise.resolve({ status: 'rejected', reason: 'unreachable', deviceCode: null, detail: `no machine ${machineId} in this room` });
        const c = this.machines.commander(machineId);
        if (kind === 'addTime') return args ? c.addTime(args) : Promise.resolve({ status: 'rejected', reason: 'bad_argument', deviceCode: null, detail: 'addTime needs minutes and amountCents' });
        return c[kind]();
      },
    };
  }

  /** A newer signed room configuration from the cloud (or the persisted one at start). */
  private applyRoomConfig(cfg: RoomConfig): void {
    if (cfg.qrTokens) {
      const r = this.tokens.setConfig(cfg.qrTokens);
      if (!r.ok) throw new Error(r.errors.join('; '));
    }
    this.engine.updateRules({ ...(cfg.pricing ? { pricing: cfg.pricing } : {}), ...(cfg.risk ? { risk: cfg.risk } : {}) });
    this.log.info({ pricing: cfg.pricing?.version ?? null, risk: cfg.risk !== undefined, keys: cfg.qrTokens?.keys.length ?? null }, 'room configuration applied');
  }

  async start(): Promise<void> {
    this.clockFloor.start();
    for (const bus of this.buses) bus.start();
    await this.waitForDiscovery(5000);
    await this.engine.start();
    for (const reader of this.readers) {
      reader.on('swipe', (e) => {
        this.log.info({ reader: e.readerId, card: maskUid(e.uid) }, 'card presented');
        void this.report(this.engine.cardSwipe({ readerId: e.readerId, uid: e.uid, machineId: attached(e.attachedTo) }));
      });
      reader.on('scan', (e) => {
        this.log.info({ reader: e.readerId }, 'code scanned');
        void this.report(this.scan({ readerId: e.readerId, text: e.text, machineId: attached(e.attachedTo) }));
      });
      await reader.start();
    }
    await this.uplink?.start();
    // The status page is for people; a port already taken must not stop the room from vending.
    try {
      const web = await this.web.start();
      this.log.info({ url: `http://${web.host}:${web.port}/` }, 'status page');
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e), port: this.config.web.port }, 'status page not started');
    }
    this.maintenance();
    this.maintenanceTimer = setInterval(() => this.maintenance(), MAINTENANCE_EVERY_MS);
    this.maintenanceTimer.unref();
    this.log.info({ room: this.config.room.id, buses: this.buses.length, machines: this.machines.machineIds().length, readers: this.readers.length }, 'gateway started');
  }

  /** A scanned code, as from a QR scanner. */
  scan(s: { readerId: string; text: string; machineId: string | null }): Promise<VendOutcome> {
    return qrVend({ verifier: this.tokens, ledger: this.ledger, engine: this.engine }, s);
  }

  private async report(p: Promise<VendOutcome>): Promise<void> {
    try {
      const o = await p;
      this.log.info({ ...o }, `vend ${o.result}`);
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'vend failed unexpectedly');
    }
  }

  private async waitForDiscovery(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    const expected = this.buses.reduce((n, b) => n + b.config.units.length, 0);
    while (Date.now() < until) {
      const found = this.buses.reduce((n, b) => n + b.poller.discoveredUnits().length, 0);
      if (found >= expected) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Keeps the database bounded: expired token ids and settled, acknowledged, old history. */
  private maintenance(): void {
    try {
      const now = this.clockFloor.nowSec();
      const tokens = this.ledger.pruneUsedTokens(now, this.tokens.skew);
      const history = this.ledger.pruneHistory({ beforeMs: (now - this.config.database.retentionDays * 86_400) * 1000 });
      this.log.info({ tokens, vends: history.vends, auditRecords: history.auditRecords }, 'ledger maintenance');
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'ledger maintenance failed');
    }
  }

  async stop(): Promise<void> {
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    await this.web.stop();
    for (const reader of this.readers) await reader.stop();
    await this.engine.stop();
    await this.uplink?.stop();
    for (const bus of this.buses) await bus.stop();
    this.clockFloor.stop();
    this.ledger.close();
    this.log.info('gateway stopped');
  }
}

function attached(a: AttachedTo): string | null {
  return a === 'kiosk' ? null : a.machineId;
}
