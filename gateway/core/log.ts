// pino to stdout, synchronously: journald keeps it, no worker thread, nothing on the SD card.
// Card UIDs, tokens and keys are redacted by key name; never put them in a message string.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = ['uid', '*.uid', 'token', '*.token', 'key', '*.key', 'privateKey', '*.privateKey', 'secret', '*.secret', 'operatorToken', '*.operatorToken'];

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream | number } = {}): Logger {
  const dest = opts.destination ?? 1;
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      name: opts.name ?? 'laundry-gateway',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    typeof dest === 'number' ? pino.destination({ dest, sync: true }) : dest,
  );
}

/** A logger that drops everything: for tests that do not assert on logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Shows at most the last 4 characters of a card UID, and never more than 30 % of it: a 7-byte UID
 * (14 hex digits) shows 4, a 4-byte one (8 digits) shows 2, not half of the number.
 */
export function maskUid(uid: string): string {
  if (uid.length <= 4) return '****';
  const shown = Math.min(4, Math.floor(uid.length * 0.3));
  return `${'*'.repeat(uid.length - shown)}${uid.slice(uid.length - shown)}`;
}
