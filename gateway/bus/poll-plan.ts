// How many read requests a poll cycle needs and whether the line can carry them in the poll
// interval. Pure arithmetic from the line format: an installer learns before the first cycle
// that 32 machines at 19200 baud will not be polled twice a second.
import { LIMITS, type ReadFc } from '../../protocols/modbus/pdu.js';
import { rtuReplyLength } from '../../protocols/modbus/rtu.js';
import { exchangeWireTime, type LineFormat } from '../../protocols/modbus/timing.js';

export interface ReadBlock {
  unit: number;
  fc: ReadFc;
  address: number;
  quantity: number;
}

export interface PollPlanInput {
  blocks: readonly ReadBlock[];
  /** The serial line; absent for TCP transports, where the fit is not computed. */
  line?: LineFormat;
  intervalMs: number;
  /** Device time from the end of a request to the start of its reply (LW-485: 5 typical, 20 max). */
  turnaroundMs?: number;
  /** Merge two ranges when at most this many unwanted registers (or bits) lie between them. */
  maxGap?: number;
}

export interface PollPlan {
  blocks: ReadBlock[];
  units: number;
  /** Seconds of line time per cycle (frames + t3.5 gaps); null on TCP. */
  wireSeconds: number | null;
  turnaroundSeconds: number | null;
  cycleSeconds: number | null;
  intervalSeconds: number;
  /** null when not computed (TCP). */
  fits: boolean | null;
  verdict: string;
}

/** RTU read request: unit, fc, address, quantity, CRC. */
const READ_REQUEST_BYTES = 8;

function limitFor(fc: ReadFc): number {
  return fc <= 2 ? LIMITS.bits : LIMITS.readRegisters;
}

/** Merges overlapping or nearby ranges of one unit and function, never past the Modbus limit. */
export function mergeBlocks(blocks: readonly ReadBlock[], maxGap = 0): ReadBlock[] {
  const sorted = [...blocks].sort((a, b) => a.unit - b.unit || a.fc - b.fc || a.address - b.address || a.quantity - b.quantity);
  const out: ReadBlock[] = [];
  for (const b of sorted) {
    const cur = out[out.length - 1];
    if (cur && cur.unit === b.unit && cur.fc === b.fc) {
      const curEnd = cur.address + cur.quantity;
      const end = Math.max(curEnd, b.address + b.quantity);
      if (b.address <= curEnd + maxGap && end - cur.address <= limitFor(b.fc)) {
        cur.quantity = end - cur.address;
        continue;
      }
    }
    out.push({ ...b });
  }
  return out;
}

const s3 = (x: number): string => x.toFixed(3);

function fmtSeconds(x: number): string {
  return String(Number(x.toFixed(3)));
}

export function planPoll(input: PollPlanInput): PollPlan {
  const blocks = mergeBlocks(input.blocks, input.maxGap ?? 0);
  const units = new Set(blocks.map((b) => b.unit)).size;
  const intervalSeconds = input.intervalMs / 1000;
  const unitsText = `${units} unit${units === 1 ? '' : 's'}${blocks.length !== units ? ` (${blocks.length} reads)` : ''}`;
  if (!input.line) {
    return {
      blocks,
      units,
      wireSeconds: null,
      turnaroundSeconds: null,
      cycleSeconds: null,
      intervalSeconds,
      fits: null,
      verdict: `${unitsText}: fit not computed for a TCP transport (the line behind the converter, if any, is not known here)`,
    };
  }
  const line = input.line;
  const wireSeconds = blocks.reduce((sum, b) => sum + exchangeWireTime(line, READ_REQUEST_BYTES, rtuReplyLength(b)), 0);
  const turnaroundSeconds = (blocks.length * (input.turnaroundMs ?? 5)) / 1000;
  const cycleSeconds = wireSeconds + turnaroundSeconds;
  const fits = cycleSeconds <= intervalSeconds;
  const verdict = `${unitsText}: wire limit ${s3(wireSeconds)} s/cycle + turnaround ${s3(turnaroundSeconds)} s ${fits ? '<=' : '>'} interval ${fmtSeconds(intervalSeconds)} s`;
  return { blocks, units, wireSeconds, turnaroundSeconds, cycleSeconds, intervalSeconds, fits, verdict };
}
