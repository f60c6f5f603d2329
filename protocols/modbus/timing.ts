// Modbus over serial line timing (Modbus over Serial Line v1.02, 2.5.1.1): every character is
// start + 8 data + parity + stop bits = 11 bits (8E1, 8O1, 8N2); t3.5 is 3.5 characters, fixed at
// 1.75 ms above 19200 baud.
import { z } from 'zod';

export const ParitySchema = z.enum(['none', 'even', 'odd']);
export type Parity = z.output<typeof ParitySchema>;

/**
 * A serial line's character format, the one definition every port, config block and the timing
 * below share. Defaults: 19200 8E1, the Modbus serial line default and the LW-485's.
 */
export const LineFormatSchema = z.object({
  baudRate: z.number().int().positive().default(19200),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  parity: ParitySchema.default('even'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
});
export type LineFormat = z.output<typeof LineFormatSchema>;

export function bitsPerChar(f: LineFormat): number {
  return 1 + f.dataBits + (f.parity === 'none' ? 0 : 1) + f.stopBits;
}

/** Seconds on the wire for one character. */
export function charTime(f: LineFormat): number {
  return bitsPerChar(f) / f.baudRate;
}

/** Inter-frame silence, seconds. */
export function t35(f: LineFormat): number {
  return f.baudRate > 19200 ? 0.00175 : 3.5 * charTime(f);
}

/** Maximum gap inside a frame, seconds. */
export function t15(f: LineFormat): number {
  return f.baudRate > 19200 ? 0.00075 : 1.5 * charTime(f);
}

/**
 * Seconds one request/reply exchange holds the line, not counting the device's own turnaround:
 * both frames' characters and the t3.5 silence that must follow each.
 */
export function exchangeWireTime(f: LineFormat, requestBytes: number, replyBytes: number): number {
  return (requestBytes + replyBytes) * charTime(f) + 2 * t35(f);
}
