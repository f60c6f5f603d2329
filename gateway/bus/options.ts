// Every timeout and threshold of the bus master in one validated object with defaults, so a
// number is never chosen deep inside a request function.
import { z } from 'zod';
import { LineFormatSchema, t35, type LineFormat } from '../../protocols/modbus/timing.js';
import { DEFAULT_LATENCY_BUCKETS_MS } from './stats.js';

export const BusMasterOptionsSchema = z.object({
  busId: z.string().min(1),
  /** 'rtu' over serial or TCP (a serial converter); 'mbap' (Modbus TCP) over TCP only. */
  framing: z.enum(['rtu', 'mbap']).default('rtu'),
  /** The serial line format, when the master drives the line itself: sets the t3.5 gap. */
  line: LineFormatSchema.optional(),
  /** LW-485 answers within 20 ms of the end of a request; 100 ms leaves room at 9600 baud. */
  replyTimeoutMs: z.number().int().min(1).max(60_000).default(100),
  /** Silence before each request. Default: t3.5 of `line`, else 0 (the converter keeps the gaps). */
  interFrameDelayMs: z.number().min(0).max(1000).optional(),
  /** After a timeout or a bad frame, no byte for this long means the line is quiet again. */
  drainQuietMs: z.number().int().min(1).max(10_000).default(50),
  /** A line that babbles for longer than this is given up on and the next request goes anyway. */
  drainMaxMs: z.number().int().min(1).max(60_000).default(2000),
  breaker: z
    .object({
      failureThreshold: z.number().int().min(1).default(3),
      probeInitialMs: z.number().int().min(1).default(1000),
      probeMaxMs: z.number().int().min(1).default(30_000),
    })
    .prefault({}),
  latencyBucketsMs: z.array(z.number().positive()).min(1).default([...DEFAULT_LATENCY_BUCKETS_MS]),
});

export type BusMasterOptions = z.input<typeof BusMasterOptionsSchema>;

export type ResolvedBusMasterOptions = Omit<z.output<typeof BusMasterOptionsSchema>, 'interFrameDelayMs'> & {
  interFrameDelayMs: number;
};

export function resolveBusMasterOptions(input: BusMasterOptions): ResolvedBusMasterOptions {
  const o = BusMasterOptionsSchema.parse(input);
  const line: LineFormat | undefined = o.line;
  const interFrameDelayMs = o.interFrameDelayMs ?? (line ? t35(line) * 1000 : 0);
  const latencyBucketsMs = [...o.latencyBucketsMs].sort((a, b) => a - b);
  return { ...o, interFrameDelayMs, latencyBucketsMs };
}
