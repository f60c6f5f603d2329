// One ingest worker: an MQTT 5 client in a shared-subscription group ($share/<group>/…) on one
// broker, and a PostgreSQL pool. Batches that arrive while a transaction runs are committed
// together in the next one (up to maxBatchesPerTx; up to maxTxInFlight transactions at once); each
// gateway's watermark is acked only after its COMMIT. A failed transaction (PostgreSQL away) is
// tried again with backoff, then dropped unacked: the gateway's outbox still has every record
// and sends it again, so a worker killed at any point loses nothing.
//
// The session is clean (no session expiry): a worker that dies takes nothing anyone waits for
// into a session nobody resumes; what it held unacked comes back from the gateways.
import { randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import type { Logger } from '../gateway/core/log.js';
import { WIRE_VERSION, type Ack } from '../protocols/mqtt/payloads.js';
import { roomTopics } from '../protocols/mqtt/topics.js';
import type { CloudConfig } from './config.js';
import { migrate } from './schema.js';
import { signDownlink, type SignedDownlinkKind } from './signing.js';
import { KnownGateways } from './known-gateways.js';
import { ingest, type IngestBatch } from './store.js';
import { TelemetryWriter } from './telemetry-store.js';
import { readUplink, warmRecordChecks, type Uplink } from './uplinks.js';

export interface WorkerStats {
  batches: number;
  records: number;
  stored: number;
  duplicates: number;
  outOfStream: number;
  /** Records stored whose payload failed its type's schema (or whose type is unknown). */
  recordProblems: number;
  invalid: number;
  acks: number;
  commits: number;
  txFailures: number;
  /** Batches given up after maxAttempts (unacked: the gateways resend them). */
  dropped: number;
  telemetry: number;
  telemetryFailures: number;
  /** Chain heads received with another hash than the one kept at their seq (a rewritten room ledger). */
  headConflicts: number;
  /** Transactions whose COPY met a record already stored, stored again by INSERT … ON CONFLICT. */
  copyFallbacks: number;
}

interface Pending {
  batch: IngestBatch;
  attempts: number;
}

export class IngestWorker {
  readonly id: string;
  readonly stats: WorkerStats = { batches: 0, records: 0, stored: 0, duplicates: 0, outOfStream: 0, recordProblems: 0, invalid: 0, acks: 0, commits: 0, txFailures: 0, dropped: 0, telemetry: 0, telemetryFailures: 0, headConflicts: 0, copyFallbacks: 0 };
  private readonly log: Logger;
  private readonly pool: pg.Pool;
  private readonly telemetry: TelemetryWriter;
  /** Gateways whose row this worker saw committed (their INSERT left out of later transactions). */
  private readonly known = new KnownGateways();
  private client: MqttClient | null = null;
  private pending: Pending[] = [];
  private retrying = 0;
  private active = 0;
  /** PUBACK callbacks held back while too much is pending (backpressure onto the broker). */
  private held: (() => void)[] = [];
  private stopping = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly cfg: CloudConfig,
    logger: Logger,
    private readonly signingKey: KeyObject | null = null,
  ) {
    this.id = `${cfg.mqtt.clientIdPrefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.log = logger.child({ component: 'ingest-worker', worker: this.id });
    const password = cfg.postgres.passwordFile ? readFileSync(cfg.postgres.passwordFile, 'utf8').trim() : undefined;
    // idleTimeoutMillis 0: connections stay open however long the fleet is quiet. pg's default
    // (10 s) closed them in every lull, so each burst began by opening new ones: a new backend
    // per connection, its caches and the named statements built again.
    this.pool = new pg.Pool({ connectionString: cfg.postgres.url, password, max: cfg.postgres.poolSize, idleTimeoutMillis: 0, statement_timeout: cfg.postgres.statementTimeoutMs });
    // An idle client whose server went away emits here; the pool drops it and opens a new one.
    this.pool.on('error', (e) => this.log.warn({ err: e.message }, 'idle postgres connection lost'));
    this.telemetry = new TelemetryWriter(this.pool, (group, e) => {
      this.stats.telemetryFailures += group.length;
      this.log.error({ messages: group.length, roomId: group[0]?.roomId, err: errText(e) }, 'telemetry not stored');
    });
  }

  /** Creates the schema if needed, then connects and subscribes (retrying until the broker answers). */
  async start(): Promise<void> {
    await migrate(this.pool, this.cfg.postgres.partitions);
    warmRecordChecks();
    const m = this.cfg.mqtt;
    const opts: IClientOptions = {
      clientId: this.id,
      protocolVersion: 5,
      clean: true,
      keepalive: m.keepaliveSec,
      reconnectPeriod: m.reconnectMs,
      username: m.username,
      password: m.passwordFile ? readFileSync(m.passwordFile, 'utf8').trim() : undefined,
      ca: m.caFile ? readFileSync(m.caFile) : undefined,
      cert: m.certFile ? readFileSync(m.certFile) : undefined,
      key: m.keyFile ? readFileSync(m.keyFile) : undefined,
      properties: { receiveMaximum: m.receiveMaximum },
    };
    const c = mqtt.connect(m.url, opts);
    this.client = c;
    c.handleMessage = (packet, done) => {
      this.corkWrites(c);
      this.message(packet.topic, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload, done);
    };
    c.on('error', (e) => this.log.warn({ err: e.message }, 'mqtt error'));
    c.on('close', () => this.log.debug('mqtt connection closed'));
    const filter = `$share/${m.group}/${m.topicPrefix}/+/up/#`;
    c.on('connect', () => {
      // Nagle off: every ack is a small write right after a PUBACK (~40 ms each otherwise).
      (c.stream as unknown as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
      c.subscribe(filter, { qos: 1 }, (err) => {
        if (err) this.log.error({ err: err.message }, 'subscribe failed');
        else this.log.info({ filter }, 'ingest worker subscribed');
      });
    });
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
  }

  /**
   * What the worker writes to the broker in one turn of the event loop leaves in one socket
   * write: the PUBACKs of every message read in the turn, and a committed group's acks. MQTT.js
   * handles each incoming packet in its own tick and writes each packet alone: one writev per
   * message (on loopback the broker's receive path runs inside that syscall), ~11 % of a
   * worker's CPU in a burst's profile for the PUBACKs. Corked until setImmediate: after the
   * turn's ticks, before the next read; the delay is under a millisecond.
   */
  private corkWrites(c: MqttClient): void {
    if (this.corked) return;
    const s = c.stream;
    s.cork();
    this.corked = true;
    setImmediate(() => {
      this.corked = false;
      s.uncork();
    });
  }

  private corked = false;

  /** Stops taking messages, lets running transactions finish (and ack), then closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.client;
    if (c) c.handleMessage = (_p, done) => done();
    for (const h of this.held.splice(0)) h();
    if (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
    await this.telemetry.drained();
    this.pending = [];
    this.client = null;
    if (c) await c.endAsync(true);
    await this.pool.end();
    this.log.info({ ...this.stats }, 'ingest worker stopped');
  }

  /** Publishes a signed downlink (config, command, …) from the one signing module. */
  async publishSigned(kind: SignedDownlinkKind, roomId: string, body: Record<string, unknown>): Promise<void> {
    if (this.signingKey === null) throw new Error('no signing key configured (signingKeyFile)');
    const msg = signDownlink(kind, roomId, body, this.signingKey);
    await this.publish(roomTopics(roomId, this.cfg.mqtt.topicPrefix).down(msg.topic), msg.payload, msg.retain);
  }

  private publish(topic: string, payload: string, retain = false): Promise<void> {
    const c = this.client;
    if (c === null) return Promise.reject(new Error('worker not started'));
    return c.publishAsync(topic, payload, { qos: 1, retain }).then(() => undefined);
  }

  private message(topic: string, payload: Buffer, done: () => void): void {
    if (this.stopping) return done();
    let u: Uplink;
    try {
      u = readUplink(topic, payload, this.cfg.mqtt.topicPrefix);
    } catch (e) {
      // A bug of ours on an odd message: thrown here it would end the process, and the gateway's
      // resend would end the next worker that took it. Dropped unacked: the gateway sends it again.
      this.stats.invalid++;
      this.log.error({ topic, err: errText(e) }, 'uplink could not be read; dropped');
      return done();
    }
    if (u.kind === 'ignored') return done();
    if (u.kind === 'invalid') {
      this.stats.invalid++;
      this.log.warn({ roomId: u.roomId, reason: u.reason }, 'invalid uplink dropped');
      return done();
    }
    if (u.kind === 'other') {
      this.stats.telemetry++;
      this.telemetry.push(u);
      return done();
    }
    this.stats.batches++;
    this.stats.records += u.batch.rows.seq.length;
    if (u.problems > 0) {
      this.stats.recordProblems += u.problems;
      this.log.warn({ gatewayId: u.batch.gatewayId, batch: `${u.batch.fromSeq}-${u.batch.toSeq}`, problems: u.problems }, 'records that fail their schema stored with the reason');
    }
    this.pending.push({ batch: u.batch, attempts: 0 });
    this.pump();
    if (this.pending.length + this.retrying >= this.cfg.ingest.maxPending) this.held.push(done);
    else done();
  }

  private pump(): void {
    const most = Math.min(this.cfg.ingest.maxTxInFlight, this.cfg.postgres.poolSize);
    while (!this.stopping && this.active < most && this.pending.length > 0) {
      const group = this.pending.splice(0, this.cfg.ingest.maxBatchesPerTx);
      this.active++;
      void this.commit(group).finally(() => {
        this.active--;
        if (this.active === 0) for (const r of this.idle.splice(0)) r();
        while (this.held.length > 0 && this.pending.length + this.retrying < this.cfg.ingest.maxPending) this.held.shift()?.();
        this.pump();
      });
    }
  }

  private async commit(group: Pending[]): Promise<void> {
    let result;
    const t0 = performance.now();
    try {
      result = await ingest(this.pool, group.map((p) => p.batch), this.cfg.ingest.maxSegments, 'copy', this.cfg.ingest.headsEveryMs, this.known);
      this.log.debug({ batches: group.length, stored: result.stored, ms: Math.round(performance.now() - t0) }, 'ingest transaction committed');
    } catch (e) {
      this.stats.txFailures++;
      this.retry(group, e);
      return;
    }
    this.stats.commits++;
    this.stats.stored += result.stored;
    this.stats.duplicates += result.duplicates;
    this.stats.outOfStream += result.outOfStream;
    this.stats.copyFallbacks += result.copyFallbacks;
    if (result.copyFallbacks > 0) this.log.warn({ batches: group.length }, 'COPY met a record already stored; the group was stored again by INSERT … ON CONFLICT (raise ingest.maxSegments if this repeats)');
    for (const h of result.headConflicts) {
      this.stats.headConflicts++;
      // Hashes of chain heads are no secret (they commit to the room's history, they unlock nothing).
      this.log.error({ gatewayId: h.gatewayId, chain: h.chain, seq: h.seq, received: h.hash, stored: h.storedHash }, 'chain head differs from the one stored at its seq: the room ledger\'s history was rewritten');
    }
    const cloudTimeSec = Math.floor(Date.now() / 1000);
    // The group's acks leave in one socket write, as the PUBACKs do (corkWrites).
    if (this.client) this.corkWrites(this.client);
    await Promise.all(
      result.acks.map(async (a) => {
        const ack: Ack = { v: WIRE_VERSION, gatewayId: a.gatewayId, upToSeq: a.upToSeq, cloudTimeSec, ...(a.auditHead ? { auditHead: a.auditHead } : {}), ...(a.moneyHead ? { moneyHead: a.moneyHead } : {}) };
        try {
          await this.publish(roomTopics(a.roomId, this.cfg.mqtt.topicPrefix).down('ack'), JSON.stringify(ack));
          this.stats.acks++;
        } catch (e) {
          // Stored but not acked: the gateway resends after its ack timeout and gets the ack then.
          this.log.warn({ gatewayId: a.gatewayId, upToSeq: a.upToSeq, err: errText(e) }, 'ack not published');
        }
      }),
    );
  }

  private retry(group: Pending[], e: unknown): void {
    const ing = this.cfg.ingest;
    const attempts = Math.max(...group.map((p) => ++p.attempts));
    if (attempts >= ing.maxAttempts || this.stopping) {
      this.stats.dropped += group.length;
      this.log.error({ batches: group.length, attempts, err: errText(e) }, 'ingest transaction failed; batches dropped unacked (the gateways resend them)');
      return;
    }
    const delay = Math.min(ing.retryMaxMs, ing.retryMinMs * 2 ** (attempts - 1));
    this.log.warn({ batches: group.length, attempts, delayMs: delay, err: errText(e) }, 'ingest transaction failed; retrying');
    this.retrying += group.length;
    setTimeout(() => {
      this.retrying -= group.length;
      if (this.stopping) {
        this.stats.dropped += group.length;
        return;
      }
      this.pending.unshift(...group);
      this.pump();
    }, delay).unref();
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
