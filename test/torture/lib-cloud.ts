// The cloud side of the crash and power-cut scenarios: a real Mosquitto, the reference consumer
// (simulator/cloud/) storing and acking every batch, and a driver that keeps sending downlinks
// (top-ups, card lists, signed room configs) while the gateway is killed over and over. The
// gateway's persistent MQTT session is made before the first child, so a downlink published
// while no gateway is connected waits in the broker as it would for a real room.
import { generateKeyPairSync } from 'node:crypto';
import mqtt from 'mqtt';
import { CloudConsumer } from '../../simulator/cloud/consumer.js';
import { rawPublicKeyOf } from '../../protocols/qr-token/cose.js';
import { roomTopics } from '../../protocols/mqtt/topics.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { CARDS, ROOM_ID } from '../engine/harness.js';
import { cloudRoomConfig } from './lib-room.js';

export interface PublishedTopUp {
  cloudId: string;
  accountId: string;
  amountCents: number;
  accountVersion: number;
}

/** Records in the order they first reached the consumer: each new seq must come after every earlier one. */
export class ArrivalOrder {
  private seen = new Set<number>();
  private highest = 0;
  outOfOrder: string[] = [];
  batches = 0;

  onBatch(payload: Buffer): void {
    this.batches++;
    let seqs: number[];
    try {
      seqs = ((JSON.parse(payload.toString('utf8')) as { records?: { seq: number }[] }).records ?? []).map((r) => r.seq);
    } catch {
      return;
    }
    for (const q of seqs) {
      if (this.seen.has(q)) continue;
      this.seen.add(q);
      if (q < this.highest && this.outOfOrder.length < 10) this.outOfOrder.push(`seq ${q} first arrived after seq ${this.highest}`);
      this.highest = Math.max(this.highest, q);
    }
  }
}

export interface Cloud {
  arrivals: ArrivalOrder;
  broker: Broker;
  consumer: CloudConsumer;
  consumerDb: string;
  configPublicKey: string;
  close(): Promise<void>;
}

export async function startCloud(consumerDb: string): Promise<Cloud> {
  const broker = await startMosquitto();
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const arrivals = new ArrivalOrder();
  const consumer = new CloudConsumer({ url: broker.url, dbPath: consumerDb, signingKey: privateKey, clientId: 'torture-cloud', onBatchPayload: (p) => arrivals.onBatch(p) });
  await consumer.start();
  await makeGatewaySession(broker.url);
  return {
    arrivals,
    broker,
    consumer,
    consumerDb,
    configPublicKey: Buffer.from(rawPublicKeyOf(publicKey)).toString('base64url'),
    close: async () => {
      await consumer.stop();
      await broker.close();
    },
  };
}

/** Connects once as the gateway (its client id, clean=false) and subscribes, then leaves: the session now exists. */
async function makeGatewaySession(url: string): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId: ROOM_ID, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 7 * 86400 }, reconnectPeriod: 0 });
  await c.subscribeAsync(roomTopics(ROOM_ID).downFilter, { qos: 1 });
  await c.endAsync();
}

export interface DriverFigures {
  topUps: number;
  cardLists: number;
  configs: number;
}

/**
 * Publishes downlinks at random, one at a time, every `everyMs` on average: mostly top-ups (for
 * alice and bob), sometimes a new full card list version, now and then a signed room config
 * (retained, as the contract recommends). Remembers what it sent for the final checks.
 */
export class CloudDriver {
  readonly topUps: PublishedTopUp[] = [];
  cardVersion = 1;
  configVersion = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = true;
  private n = 0;
  /** The cloud's account version: every top-up and snapshot books at a new one (the seed top-ups took 1). */
  private version = 1;
  /** Share of steps that send an account snapshot (seams torture); 0: never. */
  snapshotShare = 0;
  /** The seed top-ups the ledger was made with, which a snapshot's balance includes. */
  seedTopUps: readonly PublishedTopUp[] = [];
  snapshotsSent = 0;
  errors: string[] = [];

  constructor(
    private readonly cloud: Cloud,
    private readonly random: () => number,
    private readonly prefix: string,
  ) {}

  start(everyMs: number): void {
    this.stopped = false;
    const tick = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        void this.step().finally(tick);
      }, Math.floor(everyMs * (0.5 + this.random())));
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
  }

  figures(): DriverFigures {
    return { topUps: this.topUps.length, cardLists: this.cardVersion - 1, configs: this.configVersion };
  }

  /**
   * What the cloud says an account holds, as the contract books it (docs/mqtt-contract.md,
   * Balances): every top-up it issued up to `version`, and the gateway's vend records with seq up
   * to `coveredSeq` (hold −amount, capture +(held − captured), refund and fault refund +refunded).
   */
  balanceOf(accountId: string, coveredSeq: number, version = Number.POSITIVE_INFINITY): number {
    let cents = 0;
    for (const t of [...this.seedTopUps, ...this.topUps]) if (t.accountId === accountId && t.accountVersion <= version) cents += t.amountCents;
    const holders = new Map<string, string>();
    for (const r of this.cloud.consumer.records(ROOM_ID)) {
      if (r.seq > coveredSeq) break;
      const p = r.payload as { vendId?: string; accountId?: string | null; funding?: string; amountCents?: number; heldCents?: number; capturedCents?: number | null; refundedCents?: number };
      const vendId = p.vendId ?? '';
      if (r.type === 'vend.hold' && p.funding === 'account' && p.accountId === accountId) {
        holders.set(vendId, accountId);
        cents -= p.amountCents ?? 0;
      } else if (holders.has(vendId)) {
        if (r.type === 'vend.capture') cents += (p.heldCents ?? 0) - (p.capturedCents ?? 0);
        else if (r.type === 'vend.refund' || r.type === 'vend.fault_refund') cents += p.refundedCents ?? 0;
      }
    }
    return cents;
  }

  /** The highest seq up to which the cloud holds every record of the gateway. */
  watermark(): number {
    let w = 0;
    for (const r of this.cloud.consumer.records(ROOM_ID)) {
      if (r.seq !== w + 1) break;
      w = r.seq;
    }
    return w;
  }

  /** A signed snapshot of one account at a new version, covering what the cloud stored. */
  private async snapshot(accountId: string): Promise<void> {
    const version = ++this.version;
    const coveredSeq = this.watermark();
    const balanceCents = this.balanceOf(accountId, coveredSeq, version);
    await this.cloud.consumer.publishAccounts(ROOM_ID, [{ accountId, version, balanceCents, points: 0, tier: '', coveredSeq }]);
    this.snapshotsSent++;
  }

  private async step(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const c = this.cloud.consumer;
      if (this.random() < this.snapshotShare) {
        await this.snapshot(this.random() < 0.5 ? CARDS.alice.accountId : CARDS.bob.accountId);
        return;
      }
      const r = this.random();
      if (r < 0.1) {
        const version = this.configVersion + 1;
        await c.publishConfig(ROOM_ID, cloudRoomConfig(version), { retain: true });
        this.configVersion = version;
      } else if (r < 0.25) {
        const version = this.cardVersion + 1;
        await c.publishCards(ROOM_ID, {
          kind: 'full',
          version,
          cards: [
            { uid: CARDS.alice.uid, accountId: CARDS.alice.accountId, status: 'active' },
            { uid: CARDS.bob.uid, accountId: CARDS.bob.accountId, status: 'active' },
            { uid: CARDS.mallory.uid, accountId: CARDS.mallory.accountId, status: 'blocked' },
          ],
        });
        this.cardVersion = version;
      } else {
        // Two top-ups in one message now and then: a message is applied whole or redelivered.
        const count = this.random() < 0.2 ? 2 : 1;
        const list: PublishedTopUp[] = [];
        for (let i = 0; i < count; i++) {
          this.n++;
          list.push({ cloudId: `${this.prefix}-topup-${this.n}`, accountId: this.random() < 0.5 ? CARDS.alice.accountId : CARDS.bob.accountId, amountCents: 100 + Math.floor(this.random() * 20) * 50, accountVersion: ++this.version });
        }
        await c.publishTopUps(ROOM_ID, list);
        this.topUps.push(...list);
      }
    } catch (e) {
      // The broker is down (power cut of the whole room): this downlink was not published.
      if (this.errors.length < 20) this.errors.push(e instanceof Error ? e.message : String(e));
    } finally {
      this.busy = false;
    }
  }
}
