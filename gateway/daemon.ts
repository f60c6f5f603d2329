// The composition root: builds every part from the config, passes each its logger, clock and
// options, and keeps them as features in one list (`features` below): started in that order,
// stopped in reverse. Ledger, clock floor, buses and pollers (discovery), the vend engine (settles
// what a crash left unfinished), the uplink (applies the persisted room config before the first
// swipe), readers, status page, maintenance. Stopping in reverse closes the doors first (readers),
// lets the vends under way finish, and closes the ledger last, so no vend is left half-done.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GatewayConfig } from './config/schema.js';
import type { Clock } from './core/clock.js';
import { feature, Features, type Feature } from './core/feature.js';
import { sleep, systemTimers, type Timers } from './core/timers.js';
import { fileModeWarning } from './core/exposure.js';
import { maskUid, type Logger } from './core/log.js';
import { loadOrCreateRoomSecret } from './core/room-secret.js';
import { openLedger, type Ledger, type WriteFaults } from '../storage/index.js';
import { buildRoomBus, type RoomBus } from './machines/room-bus.js';
import { machinesOf, type MachineAccess } from './engine/machine-access.js';
import { VendEngine, type VendOutcome } from './engine/vend-engine.js';
import type { EngineTimingsInput } from './engine/engine-options.js';
import type { LedgerHealthStatus } from './engine/ledger-health.js';
import { qrVend } from './engine/qr-vend.js';
import { Readers } from './readers/readers.js';
import type { SerialReader } from './readers/serial-reader.js';
import type { AttachedTo } from './readers/config-schema.js';
import { ClockFloor } from './tokens/clock-floor.js';
import { TokenVerifier } from './tokens/token-verifier.js';
import { Uplink } from './uplink/uplink.js';
import { HomeAssistantBridge, haMachinesOf } from './homeassistant/index.js';
import type { RemoteCommandTarget } from './uplink/downlinks.js';
import type { RoomConfig } from './uplink/room-config.js';
import { WebServer } from './web/server.js';
import { statusSourceFromDaemon } from './web/from-daemon.js';
import type { MachineState } from './machines/state.js';
import { serviceFeatures } from './service-features.js';
import { openSecureCards, routeCardTaps, type SecureCards } from './secure-cards/index.js';

export interface DaemonOptions {
  /** Ledger maintenance (expired token ids, old settled history) runs this often. */
  maintenanceEveryMs?: number;
  /** start() waits at most this long for every configured unit to be discovered. */
  discoveryWaitMs?: number;
  /** The vend engine's timings (vend-engine.ts defaults when absent). */
  engine?: EngineTimingsInput;
}

const DEFAULT_OPTIONS: Required<DaemonOptions> = { maintenanceEveryMs: 24 * 3600_000, discoveryWaitMs: 5000, engine: {} };
const DISCOVERY_CHECK_MS = 50;
/**
 * How long a cycle's end ("done", "idle") may wait for a commit to ride on: the next swipe in the
 * room, often minutes away. Alone, it cost an fsync'd commit of its own each cycle (~6 kB of SD
 * card writes, docs/performance.md section 7). The trade: a crash may lose the last 15 minutes
 * of cycle ends (status history: the restarted poller stores each machine's status again; never
 * money, and the live view, `up/state`, is not stored), and the cloud's history gets them up to
 * 15 minutes late. A status that is not a cycle's end, and any fault, waits 2 s as before.
 */
export const CYCLE_END_EVENT_DELAY_MS = 15 * 60_000;

export interface DaemonDeps {
  logger: Logger;
  clock: Clock;
  timers?: Timers;
  /** Path of the room secret; default: beside the database. */
  roomSecretPath?: string;
  options?: DaemonOptions;
  /**
   * The systemd service's own features (control socket, health, sd_notify), for `run`.
   * Tests and the demo leave them out: no socket in /run, no notifications.
   */
  service?: boolean;
  /** Tests only: the ledger's writes fail on demand (storage/write-faults.ts). */
  ledgerWriteFaults?: WriteFaults;
  /** The config file, for the status page's warning when others can read it (the operator token). */
  configPath?: string;
}

/** A ledger that cannot write, as the page's first warning: the room takes no vend until it can. */
function ledgerWarning(h: LedgerHealthStatus): string[] {
  if (h.writable) return [];
  const since = h.sinceMs === null ? '' : ` since ${new Date(h.sinceMs).toISOString()}`;
  return [`the ledger cannot write${since} (${h.lastError ?? 'unknown error'}): every vend is declined (ledger_unavailable) until a write succeeds; check the SD card (full, failing, remounted read-only)`];
}

/** Config, ledger and room secret readable by other users, as the page's warnings. */
function fileWarnings(configPath: string | undefined, dbPath: string, secretPath: string): string[] {
  const found = [configPath === undefined ? null : fileModeWarning('config file', configPath), fileModeWarning('ledger', dbPath), fileModeWarning('room secret', secretPath)];
  return found.filter((w): w is string => w !== null);
}

export class Daemon {
  readonly bootId = randomUUID();
  readonly ledger: Ledger;
  readonly buses: RoomBus[];
  readonly machines: MachineAccess;
  readonly engine: VendEngine;
  private readonly readerFeature: Readers;
  /** The secure-card keys and the admission gate every card tap passes before the engine. */
  readonly secureCards: SecureCards;
  readonly clockFloor: ClockFloor;
  readonly uplink: Uplink | null;
  readonly homeAssistant: HomeAssistantBridge | null;
  readonly web: WebServer;
  private readonly log: Logger;
  readonly tokens: TokenVerifier;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly opts: Required<DaemonOptions>;
  private readonly features: Features;
  private maintenanceTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly config: GatewayConfig,
    deps: DaemonDeps,
  ) {
    const { logger, clock } = deps;
    this.log = logger;
    this.clock = clock;
    this.timers = deps.timers ?? systemTimers;
    this.opts = { ...DEFAULT_OPTIONS, ...deps.options };
    const secretPath = deps.roomSecretPath ?? join(dirname(config.database.path), 'room-secret');
    const secret = loadOrCreateRoomSecret(secretPath, (w) => logger.warn({ warning: w }, 'room secret'));
    let floor: ClockFloor | null = null;
    this.ledger = openLedger({
      path: config.database.path,
      roomSecret: secret,
      gatewayId: config.room.id,
      bootId: this.bootId,
      clock,
      logger,
      clockTrusted: () => floor?.status().trusted ?? false,
      ...(deps.ledgerWriteFaults ? { writeFaults: deps.ledgerWriteFaults } : {}),
      // No checkpoint inside a swipe's or an ack's commit: a worker thread runs them
      // (storage/wal-checkpoints.ts), once 8 MiB of WAL wait (storage/index.ts CHECKPOINT_WAL_BYTES:
      // the SD card's write budget).
      backgroundCheckpoints: {},
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

    this.buses = config.buses.map((b) => buildRoomBus(b, { logger, clock, timers: this.timers }));
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
      timers: this.timers,
      timings: this.opts.engine,
    });
    this.readerFeature = new Readers(config.readers, { logger, clock });
    this.secureCards = openSecureCards(config.secureCards, { ledger, logger });
    // Every card tap (a UID read on any reader, a type S SUN line) passes the secure-card gate
    // first: it declines forged, replayed and copied cards with their audit rows; what it admits
    // is an ordinary card swipe, a secure tap's counter spent by the engine's hold or decline.
    routeCardTaps(this.readerFeature, this.secureCards.gate, {
      onAdmitted: (t) => {
        this.log.info({ reader: t.readerId, card: maskUid(t.uid), secure: t.sunCounter !== null }, 'card presented');
        void this.report(this.engine.cardSwipe({ readerId: t.readerId, uid: t.uid, machineId: t.machineId, ...(t.sunCounter !== null ? { sunCounter: t.sunCounter } : {}) }));
      },
      onFailed: (f) => {
        this.log.error({ reader: f.readerId, machineId: f.machineId, tap: f.tap, err: f.err instanceof Error ? f.err.message : String(f.err) }, 'card tap not decided (the ledger could not record it): nothing vended');
      },
    });
    this.readerFeature.on('scan', (e) => {
      this.log.info({ reader: e.readerId }, 'code scanned');
      void this.report(this.scan({ readerId: e.readerId, text: e.text, machineId: attached(e.attachedTo) }));
    });
    this.uplink = config.mqtt
      ? new Uplink({
          config: config.mqtt,
          roomId: config.room.id,
          ledger,
          logger,
          clock,
          subscribeStates: (listener) => this.machines.onState((e) => listener(e.state)),
          currentStates: () => this.buses.flatMap((b) => b.poller.states()),
          busStats: () => Object.fromEntries(this.buses.map((b) => [b.config.id, b.master.stats()])),
          onRoomConfig: (cfg) => this.applyRoomConfig(cfg),
          onCloudTime: (sec) => {
            floor?.advance(sec, 'cloud');
          },
          commandTarget: this.remoteTarget(),
          secureCardKeys: this.secureCards.keyTarget,
          nowSec: () => this.clockFloor.nowSec(),
        })
      : null;
    this.homeAssistant = config.homeAssistant
      ? new HomeAssistantBridge({
          config: config.homeAssistant,
          room: config.room,
          machines: haMachinesOf(config.buses),
          subscribeStates: (listener) => this.machines.onState((e) => listener(e.state)),
          currentStates: () => this.buses.flatMap((b) => b.poller.states()),
          entitiesFile: join(dirname(config.database.path), 'home-assistant-entities.json'),
          clockTrusted: () => floor?.status().trusted ?? false,
          logger,
          clock,
        })
      : null;
    this.web = new WebServer({ config: config.web, source: statusSourceFromDaemon(this, { uplink: this.uplink, clock }), logger, clock, warnings: () => [...ledgerWarning(this.engine.health.snapshot()), ...fileWarnings(deps.configPath, config.database.path, secretPath)] });

    const service = deps.service ? serviceFeatures(this, { socketPath: config.control.socketPath, maxConnections: config.control.maxConnections, idleTimeoutMs: config.control.idleTimeoutMs, logger, clock }) : null;
    const uplink = this.uplink;
    const ha = this.homeAssistant;
    // The features, in start order; stopped in reverse. Adding a feature is one line here.
    const features: Feature[] = [
      feature('ledger', () => ledger.walCheckpoints?.start(), async () => {
        await ledger.walCheckpoints?.stop();
        ledger.close(); // the last connection: SQLite checkpoints what is left
      }),
      ...(service?.head ?? []),
      feature('clock-floor', () => this.clockFloor.start(), () => this.clockFloor.stop()),
      this.machineEvents(),
      feature('buses', () => this.startBuses(), () => this.stopBuses()),
      feature('engine', () => this.engine.start(), () => this.engine.stop()),
      ...(uplink ? [feature('uplink', () => uplink.start(), () => uplink.stop())] : []),
      ...(ha ? [feature('home-assistant', () => ha.start(), () => ha.stop())] : []),
      feature('readers', () => this.readerFeature.start(), () => this.readerFeature.stop()),
      feature('web', () => this.startWeb(), () => this.web.stop()),
      feature('maintenance', () => this.startMaintenance(), () => this.stopMaintenance()),
      ...(service?.tail ?? []),
    ];
    this.features = new Features(features, logger);
  }

  /** The card readers and QR scanners, each with its stats. */
  get readers(): readonly SerialReader[] {
    return this.readerFeature.all;
  }

  /** Every machine's state changes, logged; status and fault changes are also facts upstream. */
  private machineEvents(): Feature {
    let off: (() => void) | null = null;
    const ledger = this.ledger;
    const onState = (e: { state: MachineState; changed: readonly string[] }): void => {
      // A countdown minute alone is debug: at info it was ~30 journal lines per cycle, most of
      // the SD card's journal bytes (test/bench/sd-writes.ts); the status page shows it live.
      const countdownOnly = e.changed.every((c) => c === 'remainingMinute');
      this.log[countdownOnly ? 'debug' : 'info']({ machineId: e.state.machineId, status: e.state.status, program: e.state.program, remainingSec: e.state.remainingSec, changed: e.changed }, 'machine state');
      // Status and fault changes are facts the cloud keeps; the countdown is only telemetry
      // (the uplink's retained snapshot), and writing it would wear the SD card. They ride on the
      // next commit (a vend's capture follows its status change closely) or go alone within 2 s,
      // a cycle's end within CYCLE_END_EVENT_DELAY_MS: one fsync'd commit less each
      // (storage/events-along.ts).
      if (e.changed.includes('status') || e.changed.includes('fault')) {
        const cycleEnd = !e.changed.includes('fault') && (e.state.status === 'done' || e.state.status === 'idle');
        ledger.enqueueEventAlong(
          'machine_state',
          { machineId: e.state.machineId, status: e.state.status, program: e.state.program, remainingSec: e.state.remainingSec, faultCode: e.state.faultCode, door: e.state.door, at: e.state.observedAt },
          cycleEnd ? CYCLE_END_EVENT_DELAY_MS : undefined,
        );
      }
    };
    return feature(
      'machine-events',
      () => {
        off = this.machines.onState(onState);
      },
      () => {
        off?.();
        off = null;
      },
    );
  }

  /** Remote commands from the app go through the vend engine's claim on their machine, with their money. */
  private remoteTarget(): RemoteCommandTarget {
    return { command: (cmd) => this.engine.commands.remote(cmd) };
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
    await this.features.start();
    this.log.info({ room: this.config.room.id, buses: this.buses.length, machines: this.machines.machineIds().length, readers: this.readers.length, features: this.features.names }, 'gateway started');
  }

  private async startBuses(): Promise<void> {
    for (const bus of this.buses) bus.start();
    await this.waitForDiscovery(this.opts.discoveryWaitMs);
  }

  private async stopBuses(): Promise<void> {
    for (const bus of this.buses) await bus.stop();
  }

  private async startWeb(): Promise<void> {
    // The status page is for people; a port already taken must not stop the room from vending.
    try {
      const web = await this.web.start();
      this.log.info({ url: `http://${web.host}:${web.port}/` }, 'status page');
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e), port: this.config.web.port }, 'status page not started');
    }
  }

  private startMaintenance(): void {
    this.maintenance();
    this.maintenanceTimer = this.timers.setInterval(() => this.maintenance(), this.opts.maintenanceEveryMs);
    this.maintenanceTimer.unref();
  }

  private stopMaintenance(): void {
    if (this.maintenanceTimer) this.timers.clearInterval(this.maintenanceTimer);
    this.maintenanceTimer = null;
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
    const until = this.clock.monotonic() + maxMs;
    const expected = this.buses.reduce((n, b) => n + b.config.units.length, 0);
    while (this.clock.monotonic() < until) {
      const found = this.buses.reduce((n, b) => n + b.poller.discoveredUnits().length, 0);
      if (found >= expected) return;
      await sleep(this.timers, DISCOVERY_CHECK_MS);
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

  /** Stops every started feature in reverse order; the ledger is closed even if start() never ran. */
  async stop(): Promise<void> {
    try {
      await this.features.stop();
    } finally {
      this.ledger.close();
      this.log.info('gateway stopped');
    }
  }
}

function attached(a: AttachedTo): string | null {
  return a === 'kiosk' ? null : a.machineId;
}
