// The `readers` block of the gateway config: outside input, parsed once at start-up. Timing
// knobs are optional with per-family defaults so a normal config names only the device.
import { z } from 'zod';
import { DEFAULT_DEBOUNCE_MS, type ReaderFamily } from '../../protocols/readers/debounce.js';

export const READER_BAUD_RATES = [9600, 19200, 38400, 57600, 115200] as const;

/** Quiet time after which a partial frame is dropped as cut (see capped-delimiter.ts). */
export const DEFAULT_FRAME_GAP_MS: Readonly<Record<ReaderFamily, number>> = { line: 100, em4100: 0, qr: 100, sun: 100 };

export const attachedToSchema = z.union([z.literal('kiosk'), z.object({ machineId: z.string().min(1).max(64) }).strict()]);
export type AttachedTo = z.infer<typeof attachedToSchema>;

export const readerConfigSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only'),
    /** line: type L; em4100: type E; qr: a QR scanner; sun: type S (secure cards, docs/secure-cards.md). */
    type: z.enum(['line', 'em4100', 'qr', 'sun']),
    /** Prefer /dev/serial/by-id/...: the ttyUSBn number changes on replug. */
    path: z.string().min(1).startsWith('/', 'an absolute device path'),
    baudRate: z
      .number()
      .int()
      .refine((n) => (READER_BAUD_RATES as readonly number[]).includes(n), `one of ${READER_BAUD_RATES.join(', ')}`)
      .default(9600),
    attachedTo: attachedToSchema,
    /** Same key within this long of its last sighting is the same presentation. */
    debounceMs: z.number().int().min(0).max(60_000).optional(),
    frameGapMs: z.number().int().min(0).max(10_000).optional(),
    /** How often the device node is checked for vanishing and returning. */
    pollMs: z.number().int().min(20).max(10_000).default(250),
    reopenMinMs: z.number().int().min(20).max(60_000).default(250),
    reopenMaxMs: z.number().int().min(20).max(600_000).default(5000),
  })
  .strict()
  .refine((r) => r.reopenMaxMs >= r.reopenMinMs, { message: 'reopenMaxMs must be >= reopenMinMs', path: ['reopenMaxMs'] })
  .transform((r) => ({
    ...r,
    debounceMs: r.debounceMs ?? DEFAULT_DEBOUNCE_MS[r.type],
    frameGapMs: r.frameGapMs ?? DEFAULT_FRAME_GAP_MS[r.type],
  }));

/** A reader config after parsing: every default filled in. */
export type ReaderConfig = z.output<typeof readerConfigSchema>;
/** What a config file (or a test) may write. */
export type ReaderConfigInput = z.input<typeof readerConfigSchema>;

export const readersConfigSchema = z.array(readerConfigSchema).superRefine((list, ctx) => {
  const ids = new Set<string>();
  const paths = new Set<string>();
  list.forEach((r, i) => {
    if (ids.has(r.id)) ctx.addIssue({ code: 'custom', message: `duplicate reader id "${r.id}"`, path: [i, 'id'] });
    if (paths.has(r.path)) ctx.addIssue({ code: 'custom', message: `two readers on ${r.path}`, path: [i, 'path'] });
    ids.add(r.id);
    paths.add(r.path);
  });
});
