// The operator's secure-card keys as text: one entry per key version (meta key, master key,
// systemId), the same in the key file (gateway/secure-cards/keys.ts) and in the signed key
// downlink (protocols/mqtt/key-downlink.ts). Schemas and the hex-to-bytes step only: no I/O, and
// no error message here quotes a value.
import { z } from 'zod';
import { SYSTEM_ID_PATTERN, type SunKeySet } from './sun.js';

export const MAX_KEY_VERSIONS = 16;

const keyHex = z.string().regex(/^[0-9A-Fa-f]{32}$/, 'a 16-byte AES key as 32 hex digits');

export const secureCardKeyEntrySchema = z.strictObject({
  version: z.number().int().min(1).max(1_000_000),
  metaKey: keyHex,
  masterKey: keyHex,
  systemId: z.string().regex(SYSTEM_ID_PATTERN, 'systemId is 9 to 24 printable ASCII characters'),
});
export type SecureCardKeyEntry = z.output<typeof secureCardKeyEntrySchema>;

/** The live versions: at least one, each version once (several live while cards are re-encoded). */
export const secureCardKeyListSchema = z
  .array(secureCardKeyEntrySchema)
  .min(1, 'at least one key version')
  .max(MAX_KEY_VERSIONS)
  .superRefine((keys, ctx) => {
    const seen = new Set<number>();
    keys.forEach((k, i) => {
      if (seen.has(k.version)) ctx.addIssue({ code: 'custom', path: [i, 'version'], message: `version ${k.version} is listed twice` });
      seen.add(k.version);
    });
  });

export function toSunKeySets(entries: readonly SecureCardKeyEntry[]): SunKeySet[] {
  return entries.map((k) => ({ version: k.version, metaKey: Buffer.from(k.metaKey, 'hex'), masterKey: Buffer.from(k.masterKey, 'hex'), systemId: k.systemId }));
}
