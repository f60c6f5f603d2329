// The room's local time from the system's time zone files (/usr/share/zoneinfo, Debian's tzdata,
// which Raspberry Pi OS always has; $TZDIR overrides) instead of Intl: the first Intl.DateTimeFormat
// a process makes maps ~8 MiB of Node's ICU data, a third of what the whole daemon is allowed on a
// 512 MB Pi (docs/performance.md, section 8). Every vend prices at the room's local time, so
// Intl would be paid for by every room. UTC needs no file.
//
// A zone's file is read once per process and kept (a few KiB; a room has one zone). The files
// change only with a tzdata upgrade, which restarts nothing: the daemon's next start reads them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { offsetAt, parseTzif, type TzInfo } from '../../protocols/tzif.js';

const UTC: TzInfo = { transitions: [], offsets: [], initialOffset: 0, rule: null };
/** IANA names: Area/Location segments of letters, digits, `_`, `+`, `-`; never `.` (no `..` walk). */
const ZONE_NAME = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+){0,2}$/;

const zones = new Map<string, TzInfo | null>([
  ['UTC', UTC],
  ['Etc/UTC', UTC],
]);

function zoneDir(): string {
  return process.env.TZDIR ?? '/usr/share/zoneinfo';
}

/** The zone's data, or null when the name is not a zone this system knows. */
export function loadZone(name: string): TzInfo | null {
  const known = zones.get(name);
  if (known !== undefined) return known;
  let info: TzInfo | null = null;
  if (ZONE_NAME.test(name)) {
    try {
      info = parseTzif(readFileSync(join(zoneDir(), name)));
    } catch {
      info = null; // no such file, a directory, or not TZif: not a zone
    }
  }
  zones.set(name, info);
  return info;
}

/** True for an IANA zone name the system's time zone files hold (and UTC). */
export function isKnownTimeZone(name: string): boolean {
  return loadZone(name) !== null;
}

export interface LocalParts {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  hour: number;
  minute: number;
  second: number;
  /** ms since local midnight */
  msOfDay: number;
}

/** The wall clock of the zone at epochMs. Throws for a zone the system does not know. */
export function localParts(epochMs: number, timeZone: string): LocalParts {
  const z = loadZone(timeZone);
  if (z === null) throw new RangeError(`unknown time zone ${timeZone} (no file in ${zoneDir()})`);
  const local = new Date(epochMs + offsetAt(z, Math.floor(epochMs / 1000)) * 1000);
  const msOfDay = local.getUTCHours() * 3_600_000 + local.getUTCMinutes() * 60_000 + local.getUTCSeconds() * 1000 + local.getUTCMilliseconds();
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    weekday: local.getUTCDay(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    msOfDay,
  };
}
