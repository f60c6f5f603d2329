// A coin-operated washer or dryer with no data interface, as it sits behind a RIO-8 channel
// (rio8-coin-retrofit.md, "The machine behind it"). It only sees contact closures as coins and
// shows "in use" while it runs. Pure: time moves by the owner's clock.
import { SimActionError } from './errors.js';

export interface CoinMachineConfig {
  coinCents: number;
  coinsPerCycle: number;
  cycleMinutes: number;
}

export interface CoinMachineJson {
  /** Coins inserted and not yet used by a started cycle; all surplus is kept, no cap. */
  coins: number;
  remainingMs: number;
  coinsLost: number;
  cycles: number;
}

export interface CoinMachineSnapshot extends CoinMachineJson, CoinMachineConfig {
  creditCents: number;
  ready: boolean;
  inUse: boolean;
  remainingSec: number;
}

export class CoinMachine {
  private s: CoinMachineJson;

  constructor(
    readonly config: CoinMachineConfig,
    restored?: CoinMachineJson,
  ) {
    this.s = restored ? { ...restored } : { coins: 0, remainingMs: 0, coinsLost: 0, cycles: 0 };
  }

  get inUse(): boolean {
    return this.s.remainingMs > 0;
  }

  /** One contact closure completed. A running machine drops the coin (most models do). */
  coin(): void {
    if (this.inUse) this.s.coinsLost += 1;
    else this.s.coins += 1;
  }

  pressStart(): void {
    if (this.inUse) throw new SimActionError('not-possible', 'the machine is already running');
    if (this.s.coins < this.config.coinsPerCycle) {
      throw new SimActionError('not-possible', `Start does nothing: ${this.s.coins} of ${this.config.coinsPerCycle} coins inserted`);
    }
    this.s.coins -= this.config.coinsPerCycle;
    this.s.remainingMs = this.config.cycleMinutes * 60_000;
    this.s.cycles += 1;
  }

  /** Milliseconds until the running cycle ends, or null when idle. */
  nextEventIn(): number | null {
    return this.inUse ? this.s.remainingMs : null;
  }

  advance(ms: number): void {
    if (this.s.remainingMs > 0) this.s.remainingMs = Math.max(0, this.s.remainingMs - ms);
  }

  toJSON(): CoinMachineJson {
    return { ...this.s };
  }

  snapshot(): CoinMachineSnapshot {
    return {
      ...this.config,
      ...this.s,
      creditCents: this.s.coins * this.config.coinCents,
      ready: !this.inUse && this.s.coins >= this.config.coinsPerCycle,
      inUse: this.inUse,
      remainingSec: Math.ceil(this.s.remainingMs / 1000),
    };
  }
}
