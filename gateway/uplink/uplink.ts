// Store-and-forward to the cloud. The ledger's outbox is the truth: records leave it in seq
// order and are retired only when the cloud's application-level ack on down/ack says it stored
// them (sender.ts: the window of batches, the pump that reads the outbox, the acks). This file
// is the feature: the connection, the status and health messages, the downlinks. Everything
// here is asynchronous to the vend path: the engine only writes the ledger; the ledger's commit
// notice wakes the sender (kick), which reads the outbox on its own timer within the batch wait;
// pollMs is only the fallback.
import type { KeyObject } from 'node:crypto';
import { settingOrUndefined, type AlertsLedger } from '../../storage/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { MachineState } from '../machines/state.js';
import { MAX_DOWNLINK_BYTES, WIRE_VERSION, type CommandResult, type Health, type Reject, type Status } from '../../protocols/mqtt/payloads.js';
import { parseTopic, roomTopics, type RoomTopics } from '../../protocols/mqtt/topics.js';
import { publicKeyFromBase64url } from '../../protocols/mqtt/signing.js';
import type { MqttConfig } from './config-schema.js';
import { Downlinks, ROOM_CONFIG_VERSION, type DownlinkLedger, type RemoteCommandTarget, type SecureCardKeyTarget } from './downlinks.js';
import { Link } from './link.js';
import { loadRoomConfig, type RoomConfig } from './room-config.js';
import { Sender } from './sender.js';
import { Telemetry } from './telemetry.js';

/** The outbox it drains, alerts it raises, and what its downlinks apply. */
export type UplinkLedger = DownlinkLedger & AlertsLedger;

export interface UplinkOptions {
  /** The parsed `mqtt` config block (mqttConfigSchema). */
  config: MqttConfig;
  roomId: string;
  ledger: UplinkLedger;
  logger: Logger;
  clock: Clock;
  /** Machine state changes; returns an unsubscribe function. */
  subscribeStates?: (listener: (s: MachineState) => void) => () => void;
  /** Every machine's current state: published (retained) on every connect, also before any change. */
  currentStates?: () => MachineState[];
  /** Bus master statistics for the health message, keyed by bus id. */
  busStats?: () => Record<string, unknown>;
  /** A newer verified room config (and the persisted one at start). A throw refuses the config. */
  onRoomConfig?: (cfg: RoomConfig, info: { source: 'cloud' | 'persisted'; version: number }) => void | Promise<void>;
  /** The cloud's clock from an ack (seconds): feed it to the clock floor. */
  onCloudTime?: (sec: number) => void;
  commandTarget?: RemoteCommandTarget;
  /** Where down/keys puts the secure-card keys (the secure-cards feature); absent: refused. */
  secureCardKeys?: SecureCardKeyTarget | null;
  /** Trusted wall time for command expiry (the clock floor); default clock.now(). */
  nowSec?: () => number;
  random?: () => number;
}

export interface UplinkStatus {
  connected: boolean;
  connects: number;
  /** The oldest batch in flight. */
  inFlight: { batchId: string; fromSeq: number; toSeq: number; attempts: number } | null;
  /** Batches in flight (at most batch.window). */
  inFlightBatches: number;
  /** The ledger's ack watermark as the uplink last saw it (0 before its first read or ack). */
  ackedSeq: number;
  batchesAcked: number;
  resends: number;
  rejectsSent: number;
}

export class Uplink {
  private readonly log: Logger;
  private readonly topics: RoomTopics;
  private readonly link: Link;
  private readonly downlinks: Downlinks;
  private readonly configKey: KeyObject | null;
  private readonly random: () => number;
  private readonly sender: Sender;
  private healthTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeCommits: (() => void) | null = null;
  private readonly telemetry: Telemetry;
  private running = false;
  private rejectsSent = 0;

  constructor(private readonly o: UplinkOptions) {
    this.log = o.logger.child({ component: 'uplink' });
    this.topics = roomTopics(o.roomId, o.config.topicPrefix);
    this.random = o.random ?? Math.random;
    this.configKey = o.config.configPublicKey ? publicKeyFromBase64url(o.config.configPublicKey) : null;
    const gatewayId = o.ledger.gatewayId;
    this.link = new Link({
      config: o.config,
      clientId: o.config.clientId ?? o.roomId,
      subscribe: this.topics.downFilter,
      will: { topic: this.topics.up('status'), payload: JSON.stringify({ v: WIRE_VERSION, gatewayId, state: 'offline' } satisfies Status) },
      logger: o.logger,
      clock: o.clock,
      random: this.random,
      onConnect: () => this.connected(),
      onDisconnect: () => this.disconnected(),
      onMessage: (topic, payload) => this.message(topic, payload),
    });
    this.sender = new Sender({
      batch: o.config.batch,
      outbox: o.ledger.outbox,
      gatewayId,
      log: this.log,
      clock: o.clock,
      random: this.random,
      connected: () => this.link.connected,
      publishBatch: (payload) => this.publish(this.topics.up('batch'), payload, 1),
      reject: (r) => this.publishReject(r),
      onCloudTime: o.onCloudTime,
    });
    this.downlinks = new Downlinks({
      roomId: o.roomId,
      gatewayId,
      ledger: o.ledger,
      logger: o.logger,
      configKey: this.configKey,
      commands: o.config.commands,
      nowSec: o.nowSec ?? (() => Math.floor(o.clock.now() / 1000)),
      nowMs: () => Math.floor(o.clock.now()),
      onRoomConfig: o.onRoomConfig,
      commandTarget: o.commandTarget,
      secureCardKeys: o.secureCardKeys,
      reject: (r) => this.publishReject(r),
      commandResult: (r) => this.publishCommandResult(r),
    });
    this.telemetry = new Telemetry({
      gatewayId,
      topics: this.topics,
      logger: this.log,
      clock: o.clock,
      outbox: o.ledger.outbox,
      busStats: o.busStats,
      currentStates: o.currentStates,
      configVersion: () => this.configVersion(),
      link: () => {
        const s = this.stats();
        return { connected: s.connected, connects: s.connects, inFlight: s.inFlight ? { ...s.inFlight, attempts: Math.max(1, s.inFlight.attempts) } : null };
      },
      publish: (topic, payload, qos, retain) => this.publish(topic, payload, qos, retain),
    });
  }

  /** The health payload, for the status page. */
  health(): Health {
    return this.telemetry.health();
  }

  /** Hands the persisted room config (re-verified) to onRoomConfig, then connects in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.configKey && this.o.onRoomConfig) {
      const cfg = loadRoomConfig(this.o.ledger, this.configKey, this.o.roomId);
      // A persisted config that no longer applies must not keep the uplink down: the cloud's
      // next config is the way out. Loud, though: an alert goes upstream.
      if (cfg) {
        try {
          await this.o.onRoomConfig(cfg, { source: 'persisted', version: settingOrUndefined(this.o.ledger.readSetting(ROOM_CONFIG_VERSION)) ?? cfg.version });
        } catch (e) {
          const message = (e instanceof Error ? e.message : String(e)).slice(0, 400);
          this.log.error({ version: cfg.version, err: message }, 'persisted room config could not be applied');
          this.o.ledger.appendAlert({ code: 'room_config_unusable', message, detail: { version: cfg.version } });
        }
      }
    }
    this.unsubscribe = this.o.subscribeStates?.((s) => this.telemetry.stateChanged(s)) ?? null;
    this.sender.start();
    this.unsubscribeCommits = this.o.ledger.outbox.onCommitted(() => this.kick());
    this.healthTimer = setInterval(() => this.telemetry.publishHealth(), this.o.config.healthIntervalSec * 1000);
    this.healthTimer.unref();
    this.link.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribeCommits?.();
    this.unsubscribe = this.unsubscribeCommits = null;
    this.sender.stop();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    await this.link.stop({ topic: this.topics.up('status'), payload: JSON.stringify(this.status('offline')) });
    this.log.info('uplink stopped');
  }

  /** Wakes the sender now instead of at the next poll; called on every outbox commit. */
  kick(): void {
    if (this.running) this.sender.kick();
  }

  stats(): UplinkStatus {
    return { connected: this.link.connected, connects: this.link.connects, ...this.sender.stats(), rejectsSent: this.rejectsSent };
  }

  // ---- connection ----------------------------------------------------------------------------

  private connected(): void {
    if (!this.running) return;
    this.publish(this.topics.up('status'), JSON.stringify(this.status('online')), 1, true);
    this.telemetry.connected();
    this.sender.linkUp();
  }

  private disconnected(): void {
    this.sender.linkDown();
  }

  private status(state: 'online' | 'offline'): Status {
    const base = { v: WIRE_VERSION, gatewayId: this.o.ledger.gatewayId, state, at: Math.floor(this.o.clock.now()) } as const;
    return state === 'online' ? { ...base, configVersion: this.configVersion() } : base;
  }

  /** The room config version applied (the ledger setting Downlinks keeps), null before the first. */
  private configVersion(): number | null {
    const v = settingOrUndefined(this.o.ledger.readSetting(ROOM_CONFIG_VERSION));
    return v !== undefined && Number.isSafeInteger(v) && v > 0 ? v : null;
  }

  private publish(topic: string, payload: string | Buffer, qos: 0 | 1, retain = false): void {
    this.link.publish(topic, payload, { qos, retain }).catch((e: unknown) => {
      this.log.debug({ topic, err: e instanceof Error ? e.message : String(e) }, 'publish not delivered to the broker');
    });
  }

  // ---- downlinks -----------------------------------------------------------------------------

  /** Resolves once the message's effect is stored (the link acknowledges it to the broker then). */
  private message(topic: string, payload: Buffer): void | Promise<void> {
    const t = parseTopic(topic, this.topics.prefix);
    if (t === null || t.direction !== 'down' || t.roomId !== this.o.roomId) return;
    const limit = Math.min(this.o.config.maxDownlinkBytes, MAX_DOWNLINK_BYTES);
    if (payload.length > limit) {
      this.publishReject({ topic, reason: 'oversized', detail: `${payload.length} bytes; the limit is ${limit}` });
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      this.publishReject({ topic, reason: 'malformed_json', detail: 'payload is not JSON' });
      return;
    }
    if (t.name === 'ack') return this.sender.handleAck(raw, topic);
    const r = this.downlinks.receive(t.name, topic, raw);
    // After every config (applied, or ignored as equal or older): the version it runs, in the online status.
    if (t.name === 'config') r.done.then(() => this.running && this.publish(this.topics.up('status'), JSON.stringify(this.status('online')), 1, true), (e: unknown) => this.log.error({ err: String(e) }, 'config handling failed'));
    return r.stored;
  }

  private publishReject(r: { topic: string; reason: Reject['reason']; detail: string; ref?: string }): void {
    this.rejectsSent++;
    const msg: Reject = { v: WIRE_VERSION, gatewayId: this.o.ledger.gatewayId, topic: r.topic.slice(0, 256), reason: r.reason, detail: r.detail.slice(0, 1000), ref: r.ref, at: Math.floor(this.o.clock.now()) };
    this.publish(this.topics.up('reject'), JSON.stringify(msg), 1);
  }

  private publishCommandResult(r: Omit<CommandResult, 'v' | 'gatewayId' | 'at'>): void {
    const msg: CommandResult = { v: WIRE_VERSION, gatewayId: this.o.ledger.gatewayId, ...r, at: Math.floor(this.o.clock.now()) };
    this.publish(this.topics.up('command-result'), JSON.stringify(msg), 1);
  }
}
