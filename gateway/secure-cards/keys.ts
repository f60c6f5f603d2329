// The operator's secure-card keys (meta key, master key, systemId), versioned, from a key file
// named by the config file's `secureCards` block. The file must be readable by its owner only;
// several versions may be live while cards are re-encoded. Key bytes are held in a SecureCardKeys
// object that prints as its versions only (JSON, util.inspect), so a log line, the status page or
// a crash report that meets it by accident shows no key; and no error message quotes the file.
// The signed key downlink (gateway/secure-cards/index.ts) writes the same file, so the keys a
// gateway holds are always the file's, across restarts.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import { secureCardKeyListSchema, toSunKeySets, type SecureCardKeyEntry, type SunKeySet } from '../../protocols/secure-card/index.js';
import { formatIssues } from '../config/load.js';

export const secureCardKeyFileSchema = z.strictObject({
  keys: secureCardKeyListSchema,
  /** Written by the key downlink: the version of the message these keys came in (absent in a file written by hand). */
  downlinkVersion: z.number().int().positive().optional(),
});
export type SecureCardKeyFile = z.input<typeof secureCardKeyFileSchema>;

/** The `secureCards` block of the gateway config. */
export const secureCardsConfigSchema = z.strictObject({
  /** JSON key file, mode 0600 or stricter (docs/secure-cards.md). */
  keyFile: z.string().min(1).startsWith('/', 'an absolute path'),
  /** Decline every plain UID read (types L and E, type S `UID:` lines): the room takes secure cards only. */
  refusePlainCards: z.boolean().default(false),
});
export type SecureCardsConfig = z.output<typeof secureCardsConfigSchema>;

/** Live key versions. Prints as `SecureCardKeys { versions: [...] }`, never the bytes. */
export class SecureCardKeys {
  readonly #sets: readonly SunKeySet[];
  /** The key downlink message these came in; 0 for a file written by hand (or no file). */
  readonly downlinkVersion: number;

  constructor(sets: readonly SunKeySet[], downlinkVersion = 0) {
    // Newest first: the order verifySun tries them in anyway.
    this.#sets = [...sets].sort((a, b) => b.version - a.version);
    this.downlinkVersion = downlinkVersion;
  }

  get sets(): readonly SunKeySet[] {
    return this.#sets;
  }

  get versions(): number[] {
    return this.#sets.map((k) => k.version);
  }

  toJSON(): { versions: number[]; downlinkVersion: number } {
    return { versions: this.versions, downlinkVersion: this.downlinkVersion };
  }

  [inspect.custom](): string {
    return `SecureCardKeys { versions: [${this.versions.join(', ')}], downlinkVersion: ${this.downlinkVersion} }`;
  }
}

export type KeyLoadResult = { ok: true; keys: SecureCardKeys } | { ok: false; errors: string[] };

/** Parses key file text (already read); errors name the path and the problem, never a value. */
export function parseSecureCardKeys(file: string, text: string): KeyLoadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text around the error: it could quote a key.
    return { ok: false, errors: [`${file}: not valid JSON`] };
  }
  const parsed = secureCardKeyFileSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: formatIssues(file, parsed.error.issues) };
  return { ok: true, keys: new SecureCardKeys(toSunKeySets(parsed.data.keys), parsed.data.downlinkVersion ?? 0) };
}

/**
 * Reads the key file, refusing one that anyone but its owner may read or write. `missing` says
 * the file is not there at all (a gateway waiting for its first key downlink).
 */
export function loadSecureCardKeys(file: string): KeyLoadResult & { missing?: true } {
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return { ok: false, errors: [`${file}: not a regular file`] };
    mode = st.mode & 0o777;
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    return { ok: false, errors: [`${file}: cannot read the secure-card key file${code ? ` (${code})` : ''}`], ...(code === 'ENOENT' ? { missing: true as const } : {}) };
  }
  if ((mode & 0o077) !== 0) {
    return { ok: false, errors: [`${file}: mode ${mode.toString(8).padStart(3, '0')} lets others read or change the secure-card keys; chmod 600 it (owner only)`] };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    return { ok: false, errors: [`${file}: cannot read the secure-card key file${code ? ` (${code})` : ''}`] };
  }
  return parseSecureCardKeys(file, text);
}

/**
 * Replaces the key file with these versions (the key downlink's), owner-only from its first byte:
 * written beside it under a temporary name with mode 0600, synced, renamed over it, and the
 * directory synced, so a power cut leaves the old file or the new one, never half of either.
 */
export function writeSecureCardKeyFile(file: string, keys: readonly SecureCardKeyEntry[], downlinkVersion: number): void {
  const body: SecureCardKeyFile = { keys: keys.map((k) => ({ version: k.version, metaKey: k.metaKey, masterKey: k.masterKey, systemId: k.systemId })), downlinkVersion };
  const tmp = `${file}.${process.pid}.tmp`;
  // A stale temporary file keeps its old mode under 'w': start from none ('wx', mode 0600).
  try {
    unlinkSync(tmp);
  } catch {
    // none there: the usual case
  }
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(body, null, 2)}\n`);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
