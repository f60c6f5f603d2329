// The operator's secure-card keys (meta key, master key, systemId), versioned, from a key file
// named by the config file's `secureCards` block. The file must be readable by its owner only;
// several versions may be live while cards are re-encoded. Key bytes are held in a SecureCardKeys
// object that prints as its versions only (JSON, util.inspect), so a log line, the status page or
// a crash report that meets it by accident shows no key; and no error message quotes the file.
// The signed key downlink is not built yet: the file is the only source today.
import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { z } from 'zod';
import { SYSTEM_ID_PATTERN, type SunKeySet } from '../../protocols/secure-card/index.js';
import { formatIssues } from '../config/load.js';

const keyHex = z.string().regex(/^[0-9A-Fa-f]{32}$/, 'a 16-byte AES key as 32 hex digits');

export const secureCardKeySchema = z.strictObject({
  version: z.number().int().min(1).max(1_000_000),
  metaKey: keyHex,
  masterKey: keyHex,
  systemId: z.string().regex(SYSTEM_ID_PATTERN, 'systemId is 9 to 24 printable ASCII characters'),
});

export const secureCardKeyFileSchema = z
  .strictObject({ keys: z.array(secureCardKeySchema).min(1, 'at least one key version').max(16) })
  .superRefine((f, ctx) => {
    const seen = new Set<number>();
    f.keys.forEach((k, i) => {
      if (seen.has(k.version)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'version'], message: `version ${k.version} is listed twice` });
      seen.add(k.version);
    });
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

  constructor(sets: readonly SunKeySet[]) {
    // Newest first: the order verifySun tries them in anyway.
    this.#sets = [...sets].sort((a, b) => b.version - a.version);
  }

  get sets(): readonly SunKeySet[] {
    return this.#sets;
  }

  get versions(): number[] {
    return this.#sets.map((k) => k.version);
  }

  toJSON(): { versions: number[] } {
    return { versions: this.versions };
  }

  [inspect.custom](): string {
    return `SecureCardKeys { versions: [${this.versions.join(', ')}] }`;
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
  return {
    ok: true,
    keys: new SecureCardKeys(
      parsed.data.keys.map((k) => ({ version: k.version, metaKey: Buffer.from(k.metaKey, 'hex'), masterKey: Buffer.from(k.masterKey, 'hex'), systemId: k.systemId })),
    ),
  };
}

/** Reads the key file, refusing one that anyone but its owner may read or write. */
export function loadSecureCardKeys(file: string): KeyLoadResult {
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return { ok: false, errors: [`${file}: not a regular file`] };
    mode = st.mode & 0o777;
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    return { ok: false, errors: [`${file}: cannot read the secure-card key file${code ? ` (${code})` : ''}`] };
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
