// The reference cloud consumer: what the cloud side of the MQTT contract must do, small enough
// to read in one sitting. It stores every batch record in SQLite (deduped by gateway and seq),
// follows each gateway's stream of batches (afterSeq) and acks ONLY the watermark of a stream it
// holds without a hole, and only after the transaction is durably committed. Batches that arrive
// in one turn of the event loop share one transaction (one fsync) and one ack per gateway. It
// can publish signed downlinks (all but the ack), through protocols/mqtt/sign-downlink.ts.
// The tests drive it (with per-test ack policies) and so will the demo.
import type { KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../gateway/core/log.js';
import { silentLogger } from '../../gateway/core/log.js';
import { jsonDeeperThan, MAX_JSON_DEPTH } from '../../cloud/pg-text.js';
import { UP_SCHEMAS, WIRE_VERSION, describeIssues, parseBatch, type Ack, type Accounts, type Batch, type CardList, type RemoteCommand, type TopUps, type UpPayloads } from '../../protocols/mqtt/payloads.js';
import { DEFAULT_TOPIC_PREFIX, allUplinksFilter, parseTopic, roomTopics, type DownName } from '../../protocols/mqtt/topics.js';
import { signDownlink } from '../../protocols/mqtt/sign-downlink.js';
import { checkRecord } from '../../protocols/mqtt/records.js';

const MAX_KEPT = 10_000;

/** What to do with a batch once its records are stored. */
export type AckDecision = 'ack' | 'ignore' | { reject: { seq: number; reason: string }[] };

export interface CloudConsumerOptions {
  url: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  /** SQLite file for the stored records. */
  dbPath: string;
  prefix?: string;
  /** The cloud's Ed25519 config/command private key, for signed downlinks. */
  signingKey?: KeyObject;
  logger?: Logger;
  /** Per-test behaviour; default: ack every batch. Runs after the records are committed. */
  policy?: (batch: Batch) => AckDecision;
  /** Sent with each ack; default: the local clock. */
  cloudTimeSec?: () => number;
  /** Sees the raw bytes of every batch message as received (benchmarks replay them). */
  onBatchPayload?: (payload: Buffer) => void;
}

export interface StoredRecord {
  gatewayId: string;
  seq: number;
  id: string;
  type: string;
  money: boolean;
  payload: unknown;
}

type Received = { [K in keyof UpPayloads]: { roomId: string; machineId: string | null; payload: UpPayloads[K]; retained: boolean }[] };

export class CloudConsumer {
  private client: MqttClient | null = null;
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly prefix: string;
  /**
   * outOfStream: batches kept but not acked because an earlier one of the stream is missing.
   * invalid: uplinks refused (not JSON, or failing their payload schema; never acked).
   * recordProblems: records whose payload fails its type's schema (or whose type is unknown):
   * stored all the same, with the reason, as cloud/ does (money is never dropped).
   */
  readonly stats = { batches: 0, stored: 0, duplicates: 0, acks: 0, invalid: 0, recordProblems: 0, outOfStream: 0, commits: 0 };
  /** The latest refused uplinks and record problems, with their reasons (bounded). */
  readonly refused: { topic: string; reason: string }[] = [];
  readonly recordProblems: { gatewayId: string; seq: number; type: string; reason: string }[] = [];
  readonly received: Received = { batch: [], state: [], health: [], status: [], reject: [], 'command-result': [] };
  policy: (batch: Batch) => AckDecision;
  /** Valid batches received and not yet committed (group commit). */
  private queue: { roomId: string; batch: Batch }[] = [];
  private flushing: NodeJS.Immediate | null = null;
  /** Per gateway: every seq at or below it is stored (the acked watermark), mirrored in `streams`. */
  private readonly streams = new Map<string, number>();

  constructor(private readonly o: CloudConsumerOptions) {
    this.log = (o.logger ?? silentLogger()).child({ component: 'cloud-consumer' });
    this.prefix = o.prefix ?? DEFAULT_TOPIC_PREFIX;
    this.policy = o.policy ?? (() => 'ack');
    this.db = new Database(o.dbPath);
    this.db.pragma('journal_mode = WAL');
    // An ack promises durability: the commit must be on disk before the ack leaves.
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS records (
      gateway TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, money INTEGER NOT NULL,
      created_ms INTEGER NOT NULL, payload TEXT NOT NULL, received_ms INTEGER NOT NULL, problem TEXT, PRIMARY KEY (gateway, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS streams (gateway TEXT PRIMARY KEY, stored_seq INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS heads (gateway TEXT NOT NULL, chain TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL,
        received_ms INTEGER NOT NULL, PRIMARY KEY (gateway, chain, seq)) WITHOUT ROWID`);
    // A file from before the record checks: the column is added (null: no problem known).
    const cols = this.db.prepare("SELECT name FROM pragma_table_info('records')").all() as { name: string }[];
    if (!cols.some((c) => c.name === 'problem')) this.db.exec('ALTER TABLE records ADD COLUMN problem TEXT');
    for (const r of this.db.prepare('SELECT gateway, stored_seq FROM streams').all() as { gateway: string; stored_seq: number }[]) this.streams.set(r.gateway, r.stored_seq);
  }

  /**
   * Connects and subscribes. By default the first connection error rejects (a test wants to
   * know at once); `untilConnected` keeps retrying instead, as a long-running consumer must
   * when it starts before its broker.
   */
  async start(opts: { untilConnected?: boolean } = {}): Promise<void> {
    const c = mqtt.connect(this.o.url, { clientId: this.o.clientId ?? `cloud-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, protocolVersion: this.o.protocolVersion ?? 5, clean: true, reconnectPeriod: 200 });
    this.client = c;
    c.on('message', (topic, payload, packet) => this.message(topic, payload, packet.retain));
    c.on('error', (e) => this.log.warn({ err: e.message }, 'cloud mqtt error'));
    c.on('connect', () => {
      // Nagle off: an ack written just after a PUBACK would otherwise wait for the broker's
      // delayed ACK (~40 ms per batch).
      (c.stream as unknown as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
      c.subscribe(allUplinksFilter(this.prefix), { qos: 1 });
    });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      if (opts.untilConnected !== true) c.once('error', reject);
    });
    await c.subscribeAsync(allUplinksFilter(this.prefix), { qos: 1 });
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = null;
    // Received but not committed: never acked, so the gateway sends it again.
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    this.queue = [];
    if (c) await c.endAsync(true);
    if (this.db.open) this.db.close();
  }

  /** Stored records of one gateway in seq order. */
  records(gatewayId: string): StoredRecord[] {
    const rows = this.db.prepare('SELECT gateway, seq, id, type, money, payload FROM records WHERE gateway = ? ORDER BY seq').all(gatewayId) as { gateway: string; seq: number; id: string; type: string; money: number; payload: string }[];
    return rows.map((r) => ({ gatewayId: r.gateway, seq: r.seq, id: r.id, type: r.type, money: r.money === 1, payload: JSON.parse(r.payload) as unknown }));
  }

  /**
   * The newest audit and money heads stored for a gateway: sent back with each ack, and what an
   * operator passes to `laundry-gateway audit verify --audit-head … --money-head …` to prove the
   * room's ledger was not rewritten below them (docs/operations.md).
   */
  heads(gatewayId: string): { auditHead?: { seq: number; hash: string }; moneyHead?: { seq: number; hash: string } } {
    const newest = (chain: string): { seq: number; hash: string } | undefined =>
      this.db.prepare('SELECT seq, hash FROM heads WHERE gateway = ? AND chain = ? ORDER BY seq DESC LIMIT 1').get(gatewayId, chain) as { seq: number; hash: string } | undefined;
    const audit = newest('audit');
    const money = newest('money');
    return { ...(audit ? { auditHead: audit } : {}), ...(money ? { moneyHead: money } : {}) };
  }

  count(gatewayId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM records WHERE gateway = ?').get(gatewayId) as { n: number }).n;
  }

  private message(topic: string, payload: Buffer, retained: boolean): void {
    const t = parseTopic(topic, this.prefix);
    if (t === null || t.direction !== 'up') return;
    const text = payload.toString('utf8');
    // As the fleet ingest refuses it (cloud/pg-text.ts): JSON.stringify of a payload nested some
    // thousands deep throws inside the flush and would end this process at every resend.
    if (jsonDeeperThan(text)) {
      this.refuse(topic, `${t.name}: nested deeper than ${MAX_JSON_DEPTH} levels`);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.refuse(topic, `${t.name}: not JSON`);
      return;
    }
    if (t.name === 'batch') {
      this.o.onBatchPayload?.(payload);
      this.batch(topic, t.roomId, raw);
      return;
    }
    const parsed = UP_SCHEMAS[t.name].safeParse(raw);
    if (!parsed.success) {
      this.refuse(topic, `${t.name}: ${describeIssues(parsed.error)}`);
      return;
    }
    const list = this.received[t.name] as { roomId: string; machineId: string | null; payload: unknown; retained: boolean }[];
    list.push({ roomId: t.roomId, machineId: t.machineId, payload: parsed.data, retained });
    // A long-running demo consumer must not grow without bound.
    if (list.length > MAX_KEPT) list.splice(0, list.length - MAX_KEPT);
  }

  /** An uplink refused: counted, logged with its reason, kept for inspection; never acked. */
  private refuse(topic: string, reason: string): void {
    this.stats.invalid++;
    this.log.warn({ topic, reason }, 'invalid uplink refused');
    this.refused.push({ topic, reason });
    if (this.refused.length > MAX_KEPT) this.refused.splice(0, this.refused.length - MAX_KEPT);
  }

  private batch(topic: string, roomId: string, raw: unknown): void {
    const parsed = parseBatch(raw);
    if (!parsed.success) {
      this.refuse(topic, `batch: ${describeIssues(parsed.error)}`);
      return;
    }
    this.stats.batches++;
    this.queue.push({ roomId, batch: parsed.data });
    this.flushing ??= setImmediate(() => this.flush());
  }

  /** The batches received in this turn: one transaction, then the acks. */
  private flush(): void {
    this.flushing = null;
    const group = this.queue;
    this.queue = [];
    if (group.length === 0 || !this.db.open) return;
    const insert = this.db.prepare('INSERT OR IGNORE INTO records (gateway, seq, id, type, money, created_ms, payload, received_ms, problem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const setStream = this.db.prepare('INSERT INTO streams (gateway, stored_seq) VALUES (?, ?) ON CONFLICT (gateway) DO UPDATE SET stored_seq = excluded.stored_seq');
    // Every chain head a stored batch carried, kept: the anchors a rewritten ledger is checked against.
    const keepHead = this.db.prepare('INSERT OR IGNORE INTO heads (gateway, chain, seq, hash, received_ms) VALUES (?, ?, ?, ?, ?)');
    const now = Date.now();
    const accepted: { roomId: string; batch: Batch; upToSeq: number }[] = [];
    let stored = 0;
    let received = 0;
    const moved = new Map<string, number>();
    this.db.transaction(() => {
      for (const { roomId, batch: b } of group) {
        received += b.records.length;
        for (const r of b.records) {
          const problem = recordProblem(r);
          const n = insert.run(b.gatewayId, r.seq, r.id, r.type, r.money ? 1 : 0, r.createdMs, JSON.stringify(r.payload), now, problem).changes;
          stored += n;
          // Counted once, when stored (a resend is a duplicate, not a second problem).
          if (n > 0 && problem !== null) this.noteProblem(b.gatewayId, r, problem);
        }
        const w = moved.get(b.gatewayId) ?? this.streams.get(b.gatewayId) ?? 0;
        // The batch continues what we hold whole (or the gateway's own acked watermark, which
        // only a cloud ack moved): the watermark moves to its end. A batch after a hole (an
        // earlier one lost on the way) is kept but not acked; the gateway resends from the hole.
        // A batch without afterSeq stands alone (a gateway with one batch in flight).
        if (b.afterSeq !== undefined && b.afterSeq > Math.max(w, b.ackedSeq ?? 0)) {
          this.stats.outOfStream++;
          continue;
        }
        const upToSeq = Math.max(w, b.toSeq);
        if (upToSeq !== w) moved.set(b.gatewayId, upToSeq);
        keepHead.run(b.gatewayId, 'audit', b.auditHead.seq, b.auditHead.hash, now);
        if (b.moneyHead !== undefined) keepHead.run(b.gatewayId, 'money', b.moneyHead.seq, b.moneyHead.hash, now);
        accepted.push({ roomId, batch: b, upToSeq: b.afterSeq === undefined ? b.toSeq : upToSeq });
      }
      for (const [g, seq] of moved) setStream.run(g, seq);
    })();
    for (const [g, seq] of moved) this.streams.set(g, seq);
    this.stats.commits++;
    this.stats.stored += stored;
    this.stats.duplicates += received - stored;
    const acks: { roomId: string; ack: Ack }[] = [];
    for (const { roomId, batch: b, upToSeq } of accepted) {
      const decision = this.policy(b);
      if (decision === 'ignore') continue;
      const ack: Ack = { v: WIRE_VERSION, gatewayId: b.gatewayId, batchId: b.batchId, upToSeq, cloudTimeSec: Math.floor(this.o.cloudTimeSec?.() ?? now / 1000), ...this.heads(b.gatewayId) };
      if (decision !== 'ack') ack.rejected = decision.reject;
      acks.push({ roomId, ack });
    }
    // Acks are watermarks: a plain ack followed by a later one for the same gateway says nothing more.
    acks.forEach((a, i) => {
      const later = acks.slice(i + 1).some((x) => x.ack.gatewayId === a.ack.gatewayId && x.ack.upToSeq >= a.ack.upToSeq);
      if (a.ack.rejected === undefined && later) return;
      this.sendAck(a.roomId, a.ack);
    });
  }

  /** A record stored with a problem: counted, logged with its reason, kept for inspection. */
  private noteProblem(gatewayId: string, r: Batch['records'][number], reason: string): void {
    this.stats.recordProblems++;
    this.log.warn({ gatewayId, seq: r.seq, type: r.type.slice(0, 64), reason }, 'record fails its schema; stored with the reason');
    this.recordProblems.push({ gatewayId, seq: r.seq, type: r.type, reason });
    if (this.recordProblems.length > MAX_KEPT) this.recordProblems.splice(0, this.recordProblems.length - MAX_KEPT);
  }

  sendAck(roomId: string, ack: Ack): void {
    this.stats.acks++;
    this.publishDown(roomId, 'ack', JSON.stringify(ack));
  }

  publishDown(roomId: string, name: DownName, payload: string | Buffer, opts: { retain?: boolean } = {}): Promise<void> {
    const c = this.client;
    if (c === null) return Promise.reject(new Error('consumer not started'));
    return c.publishAsync(roomTopics(roomId, this.prefix).down(name), payload, { qos: 1, retain: opts.retain ?? false }).then(() => undefined);
  }

  /** Signed, like every downlink but the ack (protocols/mqtt/sign-downlink.ts). */
  signedCards(roomId: string, list: CardList extends infer T ? (T extends unknown ? Omit<T, 'type' | 'roomId'> : never) : never): string {
    return signDownlink(this.key(), 'cards', roomId, list).envelope;
  }

  publishCards(roomId: string, list: Parameters<CloudConsumer['signedCards']>[1]): Promise<void> {
    return this.publishDown(roomId, 'cards', this.signedCards(roomId, list));
  }

  /** Each top-up carries the account version the cloud booked it at (docs/mqtt-contract.md, Balances). */
  signedTopUps(roomId: string, topUps: TopUps['topUps']): string {
    return signDownlink(this.key(), 'topups', roomId, { topUps }).envelope;
  }

  publishTopUps(roomId: string, topUps: TopUps['topUps']): Promise<void> {
    return this.publishDown(roomId, 'topups', this.signedTopUps(roomId, topUps));
  }

  signedAccounts(roomId: string, snapshots: Accounts['snapshots']): string {
    return signDownlink(this.key(), 'accounts', roomId, { snapshots }).envelope;
  }

  publishAccounts(roomId: string, snapshots: Accounts['snapshots']): Promise<void> {
    return this.publishDown(roomId, 'accounts', this.signedAccounts(roomId, snapshots));
  }

  /** Signs the exact JSON text it sends. `config` is the room config object (type/roomId added). */
  signedConfig(roomId: string, config: Record<string, unknown>): string {
    return signDownlink(this.key(), 'config', roomId, config).envelope;
  }

  publishConfig(roomId: string, config: Record<string, unknown>, opts: { retain?: boolean } = {}): Promise<void> {
    return this.publishDown(roomId, 'config', this.signedConfig(roomId, config), opts);
  }

  signedCommand(roomId: string, cmd: Omit<RemoteCommand, 'type' | 'roomId'>): string {
    return signDownlink(this.key(), 'commands', roomId, cmd).envelope;
  }

  publishCommand(roomId: string, cmd: Omit<RemoteCommand, 'type' | 'roomId'>): Promise<void> {
    return this.publishDown(roomId, 'commands', this.signedCommand(roomId, cmd));
  }

  private key(): KeyObject {
    if (!this.o.signingKey) throw new Error('consumer has no signing key');
    return this.o.signingKey;
  }
}

/**
 * The record's payload against its type's schema (protocols/mqtt/records.ts): the reason it
 * fails, or null. A failing record is stored all the same: a cloud whose schema lags a newer
 * gateway must not drop money.
 */
function recordProblem(r: Batch['records'][number]): string | null {
  const v = checkRecord(r.type, r.money, r.payload);
  return v.ok ? null : `${v.reason}: ${v.detail}`.slice(0, 500);
}
