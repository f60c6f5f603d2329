// The fleet rig: two Mosquitto brokers bridged both ways (downlinks), a throwaway PostgreSQL,
// ingest worker processes on both brokers, and gateway host processes with the gateways split
// between the brokers. Chaos verbs (kill a worker, crash PostgreSQL, take a broker down, make
// every gateway reconnect at once) and the exactly-once check against PostgreSQL.
//
// Topology (docs/cloud.md says why): a shared-subscription group is per broker, so uplinks are
// not bridged: each broker's workers ingest the uplinks of the gateways on that broker, once.
// Downlinks (acks, configs, commands) are bridged both ways: whichever broker a worker or the
// signer publishes on, the gateway gets it.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../../cloud/schema.js';
import type { MqttConfigInput } from '../../gateway/uplink/config-schema.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { cloudConfig } from '../cloud/helpers.js';
import { PG_STATS_SETTINGS, enablePgStats, readPgStats, resetPgStats, type StatementFigure } from './pg-stats.js';
import { HostProc, WorkerProc, peakRss } from './procs.js';
import type { GatewayStat, HostStats } from './protocol.js';

export interface RigOptions {
  gateways: number;
  hosts: number;
  /** Ingest worker processes on broker A and on broker B; the first of each starts with the rig, the others when asked. */
  workers: [number, number];
  /** The gateways' mqtt block (url is set per gateway). */
  mqtt: Partial<MqttConfigInput>;
  seed?: number;
  poolSize?: number;
  /** Each worker's ingest transactions at once (ingest.maxTxInFlight; the worker's default when absent). */
  maxTxInFlight?: number;
  partitions?: number;
  /** pg_stat_statements preloaded: each timed drain also returns PostgreSQL's per-statement accounting. */
  pgStats?: boolean;
}

export interface FleetStats {
  gateways: GatewayStat[];
  latency: Record<string, number[]>;
  hostsMaxRss: number;
  actions: number;
}

/** What a timed drain runs around its span. */
export interface DrainHooks {
  /** Just before the gateways freeze, workers frozen and the backlog queued (PostgreSQL settled). */
  settle?: () => Promise<void>;
  /** The moment before the workers thaw: where the span's CPU is first read. */
  onStart?: () => void;
}

const PREFIX = 'laundry/v1';
/** Unacked records per gateway up to which its whole backlog is surely in its window (see frozenDrain). */
const FROZEN_GATEWAY_MAX_UNACKED = 400;
/**
 * How often the timed drain looks whether PostgreSQL holds every record. Slow on purpose: the
 * look is a query over the table the ingest keeps updating (at 10 ms it was PostgreSQL CPU
 * counted against the ingest); the drain's end is the last watermark move's own time.
 */
const DRAIN_POLL_MS = 250;

export class FleetRig {
  readonly dir: string;
  private constructor(
    readonly o: RigOptions,
    dir: string,
    readonly brokers: Broker[],
    readonly postgres: Postgres,
    readonly pool: pg.Pool,
    readonly workers: WorkerProc[],
    readonly hosts: HostProc[],
  ) {
    this.dir = dir;
  }

  static async start(o: RigOptions): Promise<FleetRig> {
    const base = join(tmpdir(), `fleet-${process.pid}-${Date.now()}`);
    // Ledgers on tmpfs when there is one: this measures the cloud, not a disk's fsyncs.
    const ledgers = join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `fleet-ledgers-${process.pid}-${Date.now()}`);
    mkdirSync(base, { recursive: true });
    mkdirSync(ledgers, { recursive: true });
    const pgStarting = startPostgres({ settings: { shared_buffers: '256MB', max_wal_size: '2GB', ...(o.pgStats ? PG_STATS_SETTINGS : {}) } });
    const a = await startMosquitto({ extraConfig: 'max_inflight_messages 100\nmax_queued_messages 1000000' });
    const bridge = [
      'connection to-a',
      `address 127.0.0.1:${a.port}`,
      `topic ${PREFIX}/+/down/# both 1`,
      'cleansession true',
      'restart_timeout 1 2',
      'notifications false',
      'bridge_attempt_unsubscribe false',
    ].join('\n');
    const b = await startMosquitto({ extraConfig: `max_inflight_messages 100\nmax_queued_messages 1000000\n${bridge}` });
    const postgres = await pgStarting;
    const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
    // Idle connections die with every PostgreSQL crash the rig causes; the pool opens new ones.
    pool.on('error', () => undefined);
    await migrate(pool, o.partitions ?? 16);
    if (o.pgStats) await enablePgStats(pool);
    const workers: WorkerProc[] = [];
    for (const [bi, broker] of [a, b].entries()) {
      for (let i = 0; i < (o.workers[bi] ?? 0); i++) {
        const name = `w${bi}${i}`;
        workers.push(new WorkerProc(name, broker.url, join(base, `${name}.json`), cloudConfig(broker.url, postgres.url, { logLevel: process.env.FLEET_WORKER_LOG === 'debug' ? 'debug' : 'info', mqtt: { url: broker.url, reconnectMs: 100, keepaliveSec: 300 }, postgres: { url: postgres.url, poolSize: o.poolSize ?? 4, partitions: o.partitions ?? 16 }, ...(o.maxTxInFlight === undefined ? {} : { ingest: { maxTxInFlight: o.maxTxInFlight } }) })));
      }
    }
    const first = workers.filter((w) => w.name.endsWith('0'));
    for (const w of first) w.start();
    const hosts = Array.from({ length: o.hosts }, () => new HostProc());
    const brokers = [a, b];
    const rig = new FleetRig(o, base, brokers, postgres, pool, workers, hosts);
    rig.ledgerDir = ledgers;
    try {
      await rig.init(first);
    } catch (e) {
      await rig.close();
      throw e;
    }
    return rig;
  }

  private async init(first: WorkerProc[]): Promise<void> {
    const o = this.o;
    const brokers = this.brokers;
    const a = brokers[0];
    if (a === undefined) throw new Error('no broker');
    const ready = Promise.all(first.map((w) => w.ready()));
    await Promise.all(
      this.hosts.map((h, hi) => {
        const gws = [];
        for (let i = hi; i < o.gateways; i += o.hosts) gws.push({ roomId: `room-${String(i).padStart(4, '0')}`, url: (brokers[i % 2] ?? a).url });
        return h.send({ cmd: 'init', dir: this.ledgerDir, gateways: gws, mqtt: o.mqtt, seed: (o.seed ?? 1) * 1000 + hi });
      }),
    );
    await ready;
  }

  private ledgerDir = '';

  async startGateways(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.send({ cmd: 'start' })));
  }

  async rate(perGatewaySec: number, phase: string): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.send({ cmd: 'rate', perGatewaySec, phase })));
  }

  async burst(actions: number, phase: string, onlyUrl?: string): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.send({ cmd: 'burst', actions, phase, onlyUrl })));
  }

  /** Starts the uplinks stopped by a pause (frozenDrain). */
  async resume(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.send({ cmd: 'resume' })));
  }

  async reconnectAll(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.send({ cmd: 'reconnect' })));
  }

  async stats(): Promise<FleetStats> {
    const all: HostStats[] = await Promise.all(this.hosts.map((h) => h.stats()));
    const latency: Record<string, number[]> = {};
    for (const s of all) for (const [k, v] of Object.entries(s.latency)) (latency[k] ??= []).push(...v);
    return { gateways: all.flatMap((s) => s.gateways), latency, hostsMaxRss: Math.max(...all.map((s) => s.maxRssBytes)), actions: all.reduce((n, s) => n + s.actions, 0) };
  }

  /** Resolves with the ms it took until every gateway's outbox is empty (all acked). */
  async waitDrained(timeoutMs: number, what = 'drained'): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const s = await this.stats();
      if (s.gateways.every((g) => g.depth === 0)) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) {
        const left = s.gateways.filter((g) => g.depth > 0);
        throw new Error(`not ${what} after ${timeoutMs} ms: ${left.length} gateways hold ${left.reduce((n, g) => n + g.depth, 0)} records; workers: ${this.workers.map((w) => `${w.name}:${w.running}`).join(' ')}`);
      }
      this.sampleMemory();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Every gateway connected again. */
  async waitConnected(timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    for (;;) {
      const s = await this.stats();
      if (s.gateways.every((g) => g.connected)) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) throw new Error(`${s.gateways.filter((g) => !g.connected).length} gateways not reconnected after ${timeoutMs} ms`);
      this.sampleMemory();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  readonly memory = { brokerMaxRss: 0, workerMaxRss: 0 };

  sampleMemory(): void {
    for (const b of this.brokers) this.memory.brokerMaxRss = Math.max(this.memory.brokerMaxRss, peakRss(b.pid));
    for (const w of this.workers) {
      w.sample();
      this.memory.workerMaxRss = Math.max(this.memory.workerMaxRss, w.maxRss);
    }
  }

  /**
   * The cloud's ingest rate on a backlog queued at the brokers: every gateway (of the broker
   * onlyUrl, or all) writes `actions` with its uplink stopped; the running workers (of onlyUrl)
   * are frozen and the uplinks started, so each gateway's window goes out and queues at its
   * broker for the frozen workers. Then the gateway hosts are frozen too (SIGSTOP), when every
   * gateway's unacked records fit in what its window sent, and the workers thawed: timed until
   * PostgreSQL holds every record (the gateways' stream watermarks reach their last seq). So the
   * timed span is brokers → workers → PostgreSQL (and the acks into the brokers) alone, on the
   * same cores as COPY gets: the gateways' own CPU (applying acks to their ledgers, on the same
   * two cores in this rig, but on a thousand Pis in a fleet) is not in it. The freeze spans only
   * the reconnects, not the writing (minutes on a loaded machine: longer than the workers'
   * keepalive).
   */
  async frozenDrain(actions: number, phase: string, onlyUrl?: string, hooks: DrainHooks = {}): Promise<{ records: number; ms: number; gatewaysFrozen: boolean; pgStats: StatementFigure[] | null; thawedAtMs: number }> {
    const workers = this.workers.filter((w) => w.running && (onlyUrl === undefined || w.brokerUrl === onlyUrl));
    // Uplinks stopped first, then what is stored counted: a record the rooms wrote on their own
    // before the pause and stored since is not counted as the burst's.
    await Promise.all(this.hosts.map((h) => h.send({ cmd: 'pause', onlyUrl })));
    await new Promise((r) => setTimeout(r, 1000));
    const before = await this.storedSum();
    await this.burst(actions, phase, onlyUrl);
    for (const w of workers) w.freeze();
    let gatewaysFrozen = false;
    try {
      await this.resume();
      const t0 = performance.now();
      let s = await this.stats();
      const target = s.gateways.reduce((n, g) => n + g.lastSeq, 0);
      // Every gateway's window is out (sent, so queued at its broker) before the clock starts: with
      // the workers frozen no ack comes, so a window that stopped growing for longer than the
      // batch wait (maxWaitMs, 500 ms) is all that gateway sends (full, or the outbox exhausted).
      let prev = new Map<string, number>();
      for (;;) {
        const now = new Map(s.gateways.map((g) => [g.roomId, g.inFlightBatches]));
        if (s.gateways.every((g) => g.depth === 0 || (g.inFlightBatches > 0 && prev.get(g.roomId) === g.inFlightBatches))) break;
        if (performance.now() - t0 > 120_000) throw new Error('the burst was not sent within 120 s');
        prev = now;
        await new Promise((r) => setTimeout(r, 700));
        s = await this.stats();
      }
      await new Promise((r) => setTimeout(r, 500));
      // Before the gateways freeze (a settle of some seconds is within their keepalive).
      await hooks.settle?.();
      // Frozen gateways send nothing more: only when each one's unacked records are all out
      // (a window holds 4 batches of up to 128 KiB, ~800 of these records; 400 leaves room).
      gatewaysFrozen = s.gateways.every((g) => g.lastSeq - g.ackedSeq <= FROZEN_GATEWAY_MAX_UNACKED);
      if (gatewaysFrozen) for (const h of this.hosts) h.freeze();
      if (this.o.pgStats) await resetPgStats(this.pool);
      hooks.onStart?.();
      const t1 = Date.now();
      for (const w of workers) w.thaw();
      while ((await this.storedSum()) < target) {
        if (Date.now() - t1 > 10 * 60_000) throw new Error('frozen-drain backlog not stored in 10 min');
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
      // The end: the last watermark move (its clock_timestamp(), just before its COMMIT), on the
      // same clock as t1: not when the slow poll happened to look.
      const ms = (await this.lastStoredAtMs()) - t1;
      const pgStats = this.o.pgStats ? await readPgStats(this.pool) : null;
      return { records: target - before, ms, gatewaysFrozen, pgStats, thawedAtMs: t1 };
    } finally {
      for (const w of workers) w.thaw();
      for (const h of this.hosts) h.thaw();
    }
  }

  /**
   * PostgreSQL brought to the same state before every timed step: VACUUM (ANALYZE) of the whole
   * database (the autovacuum and autoanalyze the previous step's rows made due, done now rather
   * than inside the next timed span) and a CHECKPOINT (the previous step's dirty pages written
   * now, and no timed checkpoint due within the span: checkpoint_timeout is 5 minutes).
   */
  async settlePostgres(): Promise<void> {
    await this.pool.query('VACUUM (ANALYZE)');
    await this.pool.query('CHECKPOINT');
    // The checkpointer counts its checkpoint in pg_stat_bgwriter just after CHECKPOINT returns:
    // read before that, it showed up inside the next span (span-stats.ts).
    await new Promise((r) => setTimeout(r, 200));
  }

  /**
   * The gateway hosts' scheduling priority (nice, 0-19). In the burst they are the harness, not
   * the cloud: frozen in the timed spans, but writing the next backlog and applying acks between
   * them; at 19 they take what the cloud's processes leave.
   */
  setHostPriority(nice: number): void {
    for (const h of this.hosts) h.setPriority(nice);
  }

  /** Wall-clock ms (Date.now()'s clock) of the newest watermark move of any gateway. */
  async lastStoredAtMs(): Promise<number> {
    const r = await this.pool.query<{ t: number | null }>('SELECT (extract(epoch FROM max(updated_at)) * 1000)::float8 AS t FROM gateways');
    return r.rows[0]?.t ?? 0;
  }

  /** Sum of the gateways' stream watermarks in PostgreSQL (cheap to poll: one row per gateway). */
  async storedSum(): Promise<number> {
    const r = await this.pool.query<{ n: string | null }>('SELECT sum(stored_seq) AS n FROM gateways');
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Records stored in PostgreSQL so far. */
  async storedCount(): Promise<number> {
    const r = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM records');
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Every gateway's records in PostgreSQL exactly once, seqs 1..lastSeq without a gap, and the
   * stream watermark at lastSeq; the money totals equal what the rooms booked. Returns the problems.
   */
  async verify(): Promise<string[]> {
    const s = await this.stats();
    const rows = await this.pool.query<{ gateway_id: string; n: string; d: string; mn: string; mx: string; problems: string; stored_seq: string; captured: string | null; topups: string | null }>(
      `SELECT r.gateway_id, count(*) AS n, count(DISTINCT r.seq) AS d, min(r.seq) AS mn, max(r.seq) AS mx, count(r.problem) AS problems, g.stored_seq,
         sum(CASE WHEN r.type = 'vend.capture' THEN (r.payload->>'capturedCents')::bigint WHEN r.type = 'vend.fault_refund' THEN -(r.payload->>'refundedCents')::bigint END) AS captured,
         sum(CASE WHEN r.type = 'account.topup' THEN (r.payload->>'amountCents')::bigint END) AS topups
       FROM records r JOIN gateways g USING (gateway_id) GROUP BY r.gateway_id, g.stored_seq`,
    );
    const by = new Map(rows.rows.map((r) => [r.gateway_id, r]));
    const problems: string[] = this.workers.flatMap((w) => w.crashes);
    for (const g of s.gateways) {
      const r = by.get(g.roomId);
      if (g.lastSeq === 0) continue;
      if (r === undefined) {
        problems.push(`${g.roomId}: nothing stored (${g.lastSeq} written)`);
        continue;
      }
      const got = { n: Number(r.n), d: Number(r.d), mn: Number(r.mn), mx: Number(r.mx), stored: Number(r.stored_seq), problems: Number(r.problems), captured: Number(r.captured ?? 0), topups: Number(r.topups ?? 0) };
      const want = { n: g.lastSeq, d: g.lastSeq, mn: 1, mx: g.lastSeq, stored: g.lastSeq, problems: 0, captured: g.capturedCents, topups: g.topUpCents };
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${g.roomId}: stored ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    return problems;
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.close().catch(() => undefined)));
    for (const w of this.workers) await w.kill('SIGTERM');
    await this.pool.end().catch(() => undefined);
    await this.postgres.close();
    for (const b of this.brokers) await b.close();
    rmSync(this.dir, { recursive: true, force: true });
    if (this.ledgerDir) rmSync(this.ledgerDir, { recursive: true, force: true });
  }
}
