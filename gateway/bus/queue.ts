// Pending requests of one bus. Commands go before polls, polls before probes; within one
// priority the order of arrival is kept, so each unit's jobs of a kind run in the order asked.
// Across priorities a command does overtake that unit's queued polls: a poll is a read and
// its answer is only fresher for it.
//
// One FIFO per priority, not per unit: the most urgent job is the best (priority, arrival) of
// all, and each unit's jobs of a priority are a subsequence of that priority's arrivals, so the
// head of the best non-empty FIFO is it. shift() was a walk over every unit's lanes, 32 of them
// at each request of a 32-unit room (the bus loop's largest JavaScript cost in a CPU profile,
// test/bench/footprint.ts; docs/performance.md section 8).
import type { BusPriority } from './types.js';

export const PRIORITY_RANK: Readonly<Record<BusPriority, number>> = { command: 0, poll: 1, probe: 2 };

export interface Queued {
  unit: number;
  priority: BusPriority;
}

interface Entry<J> {
  seq: number;
  job: J;
}

/** A FIFO whose shift does not move the rest (Array.prototype.shift copies on long arrays). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

export class UnitQueue<J extends Queued> {
  private readonly lanes: [Fifo<Entry<J>>, Fifo<Entry<J>>, Fifo<Entry<J>>] = [new Fifo(), new Fifo(), new Fifo()];
  private seq = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(job: J): void {
    this.lanes[PRIORITY_RANK[job.priority]]?.push({ seq: this.seq++, job });
    this.count += 1;
  }

  /** The most urgent job: best priority first, then the oldest. */
  shift(): J | undefined {
    for (const lane of this.lanes) {
      const entry = lane.shift();
      if (entry === undefined) continue;
      this.count -= 1;
      return entry.job;
    }
    return undefined;
  }

  /** Empties the queue, oldest first (for shutdown). */
  takeAll(): J[] {
    const all = this.lanes.flatMap((l) => l.drain());
    this.count = 0;
    return all.sort((a, b) => a.seq - b.seq).map((e) => e.job);
  }
}
