// Store-and-forward to the cloud. The ledger's outbox is the truth: records leave it in seq
// order, in a window of up to batch.window batches in flight (each chained to the one before by
// afterSeq), and are retired only when the cloud's application-level ack on down/ack says it
// stored them (never on the broker's PUBACK). Acks are watermarks: one retires every batch
// below it. No ack → the whole window goes again, byte for byte, from the oldest batch, after a
// growing timeout, forever. Everything here is asynchronous to the vend path: the
// engine only writes the ledger; the ledger's commit notice wakes this feature (kick), which
// reads the outbox on its own timer within the batch wait; pollMs is only the fallback.
import type { KeyObject } from 'node:crypto';
import { settingOrUndefined, type AckedHeads, type AlertsLedger, type OutboxBatchText } from '../../storage/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { MachineState } from '../machines/state.js';
import { MAX_DOWNLINK_BYTES, WIRE_VERSION, ackSchema, describeIssues, type CommandResult, type Health, type Reject, type Status } from '../../protocols/mqtt/payloads.js';
import { parseTopic, roomTopics, type RoomTopics } from '../../protocols/mqtt/topics.js';
import { publicKeyFromBase64url } from '../../protocols/mqtt/signing.js';
import { ackTimeoutMs, ackWindow, addSlice, encodeBatchText, newer, nextSlice, planAck, waitBeforeSending, type InFlight } from './batcher.js';
import type { MqttConfig } from './config-schema.js';
import { Downlinks, ROOM_CONFIG_VERSION, type DownlinkLedger, type RemoteCommandTarget, type SecureCardKeyTarget } from './downlinks.js';
import { Link } from './link.js';
import { loadRoomConfig, type RoomConfig } from './room-config.js';
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
  /** Batches sent and not yet acked, oldest first, each continuing the one before. */
  private window: InFlight[] = [];
  private ackedSeq = 0;
  /** Acks that arrived in one turn of the event loop are applied as one ledger write. */
  private pendingAck: { upToSeq: number; cloudTimeSec?: number; heads: AckedHeads } | null = null;
  private ackImmediate: NodeJS.Immediate | null = null;
  /** The oldest unsent seq and when (monotonic) it was first seen: bounds the batching wait. */
  private firstSeen: { seq: number; mono: number } | null = null;
  private ackTimer: NodeJS.Timeout | null = null;
  private pumpTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeCommits: (() => void) | null = null;
  /** The pump timer waits for a small batch to age (maxWaitMs): a new record need not wake it. */
  private holdingForAge = false;
  /** The pump timer is a drain's pause between two reads: neither a commit nor an ack cuts it short. */
  private paced = false;
  /** The batch being assembled from slice reads (batcher.ts, addSlice), not yet sent. */
  private assembling: OutboxBatchText | null = null;
  private readonly telemetry: Telemetry;
  private running = false;
  private readonly counters = { batchesAcked: 0, resends: 0, rejectsSent: 0 };

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
    for (const t of [this.ackTimer, this.pumpTimer]) if (t) clearTimeout(t);
    if (this.healthTimer) clearInterval(this.healthTimer);
    // An ack not yet applied is dropped: those records go again and the cloud dedupes them.
    if (this.ackImmediate) clearImmediate(this.ackImmediate);
    this.ackImmediate = null;
    this.pendingAck = null;
    this.assembling = null;
    this.ackTimer = this.pumpTimer = this.healthTimer = null;
    await this.link.stop({ topic: this.topics.up('status'), payload: JSON.stringify(this.status('offline')) });
    this.log.info('uplink stopped');
  }

  /** Wakes the sender now instead of at the next poll; called on every outbox commit. */
  kick(): void {
    if (this.running && !this.holdingForAge && !this.paced && this.link.connected && this.window.length < this.o.config.batch.window) this.schedulePump(0);
  }

  stats(): UplinkStatus {
    const f = this.window[0];
    return {
      connected: this.link.connected,
      connects: this.link.connects,
      inFlight: f ? { batchId: f.batchId, fromSeq: f.fromSeq, toSeq: f.toSeq, attempts: f.attempts } : null,
      inFlightBatches: this.window.length,
      ackedSeq: this.ackedSeq,
      ...this.counters,
    };
  }

  // ---- connection ----------------------------------------------------------------------------

  private connected(): void {
    if (!this.running) return;
    this.publish(this.topics.up('status'), JSON.stringify(this.status('online')), 1, true);
    this.telemetry.connected();
    // Batches in flight when the link dropped may never have reached the broker: send them again.
    this.resendWindow();
    this.schedulePump(0);
  }

  private disconnected(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
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

  // ---- batches -------------------------------------------------------------------------------

  private schedulePump(ms: number, paced = false): void {
    if (!this.running) return;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.paced = paced;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = null;
      this.pump();
    }, ms);
  }

  /**
   * Reads one slice of the outbox (READ_SLICE_RECORDS records), then yields: a batch is
   * assembled over several turns of the event loop and sent when full or when the outbox is read
   * to its end, so a swipe's serial bytes, ledger writes and bus replies are handled between two
   * small reads (~1 ms each) instead of after a whole batch's (5-20 ms) or window's. Each read is
   * followed by a pause as long as it took (paced: a drain takes at most about half the loop).
   */
  private pump(): void {
    this.holdingForAge = false;
    this.paced = false;
    if (!this.running || !this.link.connected) {
      this.assembling = null;
      return;
    }
    const b = this.o.config.batch;
    if (this.window.length >= b.window) return;
    const startedAt = performance.now();
    const last = this.window[this.window.length - 1];
    const acc = this.assembling;
    const asked = nextSlice(acc, b);
    let slice: OutboxBatchText;
    try {
      slice = this.o.ledger.outbox.nextBatchText({ ...asked, afterSeq: acc?.toSeq ?? last?.toSeq });
    } catch (e) {
      this.assembling = null;
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'outbox read failed');
      this.schedulePump(b.pollMs);
      return;
    }
    this.ackedSeq = Math.max(this.ackedSeq, slice.ackedSeq);
    const step = addSlice(acc, slice, asked, b);
    const pause = Math.min(50, Math.max(1, Math.round(performance.now() - startedAt)));
    if (!step.done) {
      this.assembling = step.batch;
      this.schedulePump(pause, true);
      return;
    }
    this.assembling = null;
    const ob = step.batch ?? slice;
    const mono = this.o.clock.monotonic();
    if (ob.count > 0 && this.firstSeen?.seq !== ob.fromSeq) this.firstSeen = { seq: ob.fromSeq, mono };
    const wait = waitBeforeSending(ob, b, this.o.clock.now(), this.firstSeen ? mono - this.firstSeen.mono : 0);
    if (wait > 0) {
      this.schedulePump(Math.min(wait, b.pollMs));
      this.holdingForAge = Number.isFinite(wait);
      return;
    }
    const f = encodeBatchText(ob, this.o.clock.now(), last?.toSeq ?? ob.ackedSeq);
    this.window.push(f);
    this.send(f);
    if (this.ackTimer === null) this.startAckTimer();
    if (this.window.length < b.window) this.schedulePump(pause, true);
  }

  private send(f: InFlight): void {
    f.attempts++;
    if (f.attempts > 1) {
      this.counters.resends++;
      this.log.warn({ batchId: f.batchId, attempts: f.attempts }, 'batch resent: no ack yet');
    } else {
      this.log.debug({ batchId: f.batchId, records: f.count }, 'batch sent');
    }
    this.publish(this.topics.up('batch'), f.payload, 1);
  }

  /** The whole window again, oldest first: the cloud acks only a stream without a hole. */
  private resendWindow(): void {
    if (this.window.length === 0 || !this.link.connected) return;
    for (const f of this.window) this.send(f);
    this.startAckTimer();
  }

  /** The ack wait of the oldest batch in flight (restarted whenever the window moves on). */
  private startAckTimer(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const oldest = this.window[0];
    if (oldest === undefined || !this.running) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.resendWindow();
    }, ackTimeoutMs(oldest.attempts, this.o.config.batch, this.random));
  }

  private handleAck(raw: unknown, topic: string): void {
    const parsed = ackSchema.safeParse(raw);
    if (!parsed.success) {
      this.publishReject({ topic, reason: 'schema', detail: describeIssues(parsed.error) });
      return;
    }
    const ack = parsed.data;
    if (ack.gatewayId !== this.o.ledger.gatewayId) {
      this.publishReject({ topic, reason: 'wrong_room', detail: 'ack names another gateway', ref: ack.batchId });
      return;
    }
    const plan = planAck(ack);
    if (plan.ignoredRejections > 0) this.log.warn({ batchId: ack.batchId, ignored: plan.ignoredRejections }, 'ack rejects records above its upToSeq; ignored');
    const p = this.pendingAck;
    // The heads the cloud holds (the anchors `audit verify` proves): the newest of each wins.
    const heads: AckedHeads = { audit: newer(p?.heads.audit, ack.auditHead), money: newer(p?.heads.money, ack.moneyHead) };
    this.pendingAck = { upToSeq: Math.max(p?.upToSeq ?? 0, plan.upToSeq), cloudTimeSec: ack.cloudTimeSec ?? p?.cloudTimeSec, heads };
    if (plan.deadLetters.length > 0) {
      // Rare: dead letters first, then the watermark (ack() retires the rejected records too).
      try {
        for (const d of plan.deadLetters) this.o.ledger.outbox.deadLetter(d.seqs, d.reason);
      } catch (e) {
        this.pendingAck = p;
        this.log.error({ err: e instanceof Error ? e.message : String(e), batchId: ack.batchId }, 'ack could not be applied; the batch will be resent');
        return;
      }
      this.applyAcks();
      return;
    }
    // The broker has this ack's PUBACK before the ledger applies it (next turn): an ack lost to
    // a crash in between only means the window is resent and acked again. Waiting for the
    // write would hand acks to the ledger one per turn, and they would no longer coalesce.
    this.ackImmediate ??= setImmediate(() => {
      this.ackImmediate = null;
      this.applyAcks();
    });
  }

  private applyAcks(): void {
    if (this.ackImmediate) clearImmediate(this.ackImmediate);
    this.ackImmediate = null;
    const p = this.pendingAck;
    this.pendingAck = null;
    if (p === null || !this.running) return;
    let ackedSeq: number;
    try {
      ackedSeq = this.o.ledger.outbox.ack(p.upToSeq, p.heads).ackedSeq;
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e), upToSeq: p.upToSeq }, 'ack could not be applied; the batches will be resent');
      return;
    }
    this.ackedSeq = ackedSeq;
    if (p.cloudTimeSec !== undefined) this.o.onCloudTime?.(p.cloudTimeSec);
    const w = ackWindow(this.window, ackedSeq);
    if (w.retired === 0 && w.dropped === 0) return;
    this.counters.batchesAcked += w.retired;
    this.window = w.keep;
    // The batch being assembled continues the last one in flight: gone with a dropped window.
    if (w.dropped > 0) this.assembling = null;
    this.startAckTimer();
    if (!this.paced) this.schedulePump(0);
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
    if (t.name === 'ack') return this.handleAck(raw, topic);
    const r = this.downlinks.receive(t.name, topic, raw);
    // After every config (applied, or ignored as equal or older): the version it runs, in the online status.
    if (t.name === 'config') r.done.then(() => this.running && this.publish(this.topics.up('status'), JSON.stringify(this.status('online')), 1, true), (e: unknown) => this.log.error({ err: String(e) }, 'config handling failed'));
    return r.stored;
  }

  private publishReject(r: { topic: string; reason: Reject['reason']; detail: string; ref?: string }): void {
    this.counters.rejectsSent++;
    const msg: Reject = { v: WIRE_VERSION, gatewayId: this.o.ledger.gatewayId, topic: r.topic.slice(0, 256), reason: r.reason, detail: r.detail.slice(0, 1000), ref: r.ref, at: Math.floor(this.o.clock.now()) };
    this.publish(this.topics.up('reject'), JSON.stringify(msg), 1);
  }

  private publishCommandResult(r: Omit<CommandResult, 'v' | 'gatewayId' | 'at'>): void {
    const msg: CommandResult = { v: WIRE_VERSION, gatewayId: this.o.ledger.gatewayId, ...r, at: Math.floor(this.o.clock.now()) };
    this.publish(this.topics.up('command-result'), JSON.stringify(msg), 1);
  }
}
