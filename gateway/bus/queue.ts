// Pending requests, keyed per unit. Commands go before polls, polls before probes; within one
// priority the order of arrival is kept, so each unit's jobs of a kind run in the order asked.
// Across priorities a command does overtake that unit's queued polls: a poll is a read and
// its answer is only fresher for it.
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

export class UnitQueue<J extends Queued> {
  private readonly units = new Map<number, Entry<J>[][]>();
  private seq = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(job: J): void {
    let lanes = this.units.get(job.unit);
    if (!lanes) {
      lanes = [[], [], []];
      this.units.set(job.unit, lanes);
    }
    lanes[PRIORITY_RANK[job.priority]]?.push({ seq: this.seq++, job });
    this.count += 1;
  }

  /** The most urgent job: best priority first, then the oldest. */
  shift(): J | undefined {
    let best: Entry<J>[] | undefined;
    let bestRank = Infinity;
    let bestSeq = Infinity;
    for (const lanes of this.units.values()) {
      for (let rank = 0; rank < lanes.length && rank <= bestRank; rank++) {
        const head = lanes[rank]?.[0];
        if (!head) continue;
        if (rank < bestRank || head.seq < bestSeq) {
          best = lanes[rank];
          bestRank = rank;
          bestSeq = head.seq;
        }
        break;
      }
    }
    const entry = best?.shift();
    if (!entry) return undefined;
    this.count -= 1;
    return entry.job;
  }

  /** Empties the queue, oldest first (for shutdown). */
  takeAll(): J[] {
    const all: Entry<J>[] = [];
    for (const lanes of this.units.values()) for (const lane of lanes) all.push(...lane);
    this.units.clear();
    this.count = 0;
    return all.sort((a, b) => a.seq - b.seq).map((e) => e.job);
  }
}
