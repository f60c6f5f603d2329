// A laundry room's day as ledger writes: card vends (hold → credit sent → capture), vends refunded
// before or after the credit, fault refunds on captured vends, declines, top-ups applied from the
// cloud, machine state changes, alerts, a card blocked by the operator, remote command results and
// feedback. Every record goes through the real ledger API (storage/), so its payload is exactly
// what a gateway sends. Deterministic from the seed.
import type { Ledger } from '../../storage/index.js';

export interface Rng {
  (): number;
}

/** mulberry32: small, seeded, good enough for a mix. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RoomTally {
  actions: number;
  /** Cents captured minus fault refunds, over every vend: what the cloud must book as revenue. */
  capturedCents: number;
  topUpCents: number;
}

const MACHINES = ['w1', 'w2', 'w3', 'd1', 'd2'];
const STATUSES = ['idle', 'credited', 'running', 'done'] as const;

export class RoomActivity {
  readonly tally: RoomTally = { actions: 0, capturedCents: 0, topUpCents: 0 };
  private topUps = 0;
  private commands = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly rng: Rng,
    private readonly now: () => number = Date.now,
  ) {}

  private pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.rng() * xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }

  private account(): string {
    return `acct-${Math.floor(this.rng() * 20)}`;
  }

  private cardUid(): string {
    return `04A1${Math.floor(this.rng() * 0xffffff).toString(16).padStart(6, '0').toUpperCase()}`;
  }

  /** One action of the mix; each writes one to four outbox records. */
  step(): void {
    const r = this.rng();
    this.tally.actions++;
    if (r < 0.45) this.cardVend();
    else if (r < 0.52) this.refundedVend();
    else if (r < 0.62) this.decline();
    else if (r < 0.7) this.topUp();
    else if (r < 0.95) this.machineState();
    else if (r < 0.97) this.ledger.appendAlert({ code: 'machine_fault', message: 'door lock fault', machineId: this.pick(MACHINES), detail: { faultCode: 12 } });
    else if (r < 0.98) this.ledger.setCardStatus(this.cardUid(), this.rng() < 0.5 ? 'lost' : 'active');
    else if (r < 0.99) this.remoteCommand();
    else this.ledger.enqueueEvent('feedback', { id: `fb-${this.tally.actions}`, at: Math.floor(this.now()), machineId: this.pick(MACHINES), message: 'the dryer is cold', contact: null });
  }

  private hold(amountCents: number): string | null {
    const accountId = this.account();
    const h = this.ledger.hold({ method: 'card', funding: 'account', machineId: this.pick(MACHINES), program: 1 + Math.floor(this.rng() * 4), amountCents, accountId, cardUid: this.cardUid(), floorCents: -100_000, ruleSetVersion: '3', ruleId: 'base' });
    return h.ok ? h.vendId : null;
  }

  private cardVend(): void {
    const amount = 150 + 50 * Math.floor(this.rng() * 6);
    const vendId = this.hold(amount);
    if (vendId === null) return;
    this.ledger.markCreditSent(vendId, { profile: 'lw485', seq: this.tally.actions & 0xffff });
    const captured = this.rng() < 0.9 ? amount : amount - 50;
    this.ledger.capture(vendId, { amountCents: captured, points: 1 });
    this.tally.capturedCents += captured;
    if (this.rng() < 0.05) {
      const r = this.ledger.refundCaptured(vendId, { reason: 'machine_fault', amountCents: Math.min(captured, 100) });
      if (r.ok) this.tally.capturedCents -= r.refundedCents;
    }
  }

  private refundedVend(): void {
    const vendId = this.hold(200);
    if (vendId === null) return;
    if (this.rng() < 0.5) this.ledger.markCreditSent(vendId, { profile: 'rio8', pulsesBefore: 7 });
    this.ledger.refund(vendId, { reason: 'not_started' });
  }

  private decline(): void {
    this.ledger.recordDecline({ method: this.rng() < 0.7 ? 'card' : 'qr', reason: this.pick(['unknown_card', 'insufficient_funds', 'machine_busy']), machineId: this.pick(MACHINES), amountCents: 250 });
  }

  private topUp(): void {
    const amountCents = 500 * (1 + Math.floor(this.rng() * 4));
    // The cloud books a top-up at a new account version (docs/mqtt-contract.md, Balances); no snapshot is sent here.
    const r = this.ledger.applyTopUp({ cloudId: `tu-${this.ledger.gatewayId}-${++this.topUps}`, accountId: this.account(), amountCents, accountVersion: this.topUps });
    if (r.applied) this.tally.topUpCents += amountCents;
  }

  private machineState(): void {
    const status = this.pick(STATUSES);
    this.ledger.enqueueEvent('machine_state', {
      machineId: this.pick(MACHINES),
      status,
      program: status === 'idle' ? null : 2,
      remainingSec: status === 'running' ? Math.floor(this.rng() * 3600) : null,
      faultCode: null,
      door: { closed: status !== 'idle', locked: status === 'running' },
      at: Math.floor(this.now()),
    });
  }

  private remoteCommand(): void {
    this.ledger.enqueueEvent('remote_command', { commandId: `c-${++this.commands}`, machineId: this.pick(MACHINES), kind: 'start', outcome: 'accepted', reason: null, detail: null, at: Math.floor(this.now()) });
  }
}
