// The signed room configuration inside a `down/config` message: verified against the cloud's
// config key, parsed with each owning part's schema, applied only when its version is newer.
// A block that is absent leaves that part's current settings as they are.
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { defineSetting, type SettingsLedger } from '../../storage/index.js';
import { describeIssues, signedConfigSchema } from '../../protocols/mqtt/payloads.js';
import { verifyText } from '../../protocols/mqtt/signing.js';
import { priceRulesSchema } from '../vend/pricing-schema.js';
import { riskConfigSchema } from '../vend/risk.js';
import { qrTokenConfigSchema } from '../tokens/trusted-keys.js';

export const roomConfigSchema = z.strictObject({
  /** Keeps a signed command text from ever passing as a config, and the other way round. */
  type: z.literal('room-config'),
  roomId: z.string().min(1).max(64),
  /** Strictly increasing per room: a version at or below the current one is never applied. */
  version: z.number().int().positive(),
  issuedAtSec: z.number().int().nonnegative(),
  pricing: priceRulesSchema.optional(),
  risk: riskConfigSchema.optional(),
  qrTokens: qrTokenConfigSchema.optional(),
});

export type RoomConfig = z.output<typeof roomConfigSchema>;
export type RoomConfigInput = z.input<typeof roomConfigSchema>;

export type VerifyResult<T> = { ok: true; value: T } | { ok: false; reason: 'malformed_json' | 'schema' | 'bad_signature' | 'wrong_room'; detail: string; ref?: string };

/**
 * Checks a signed text and parses it. The signature is checked before the JSON is even parsed,
 * so an unsigned payload never reaches a schema (or a parser bug).
 */
export function verifySigned<T>(text: string, sig: string, key: KeyObject, schema: z.ZodType<T>, roomId: string): VerifyResult<T> {
  if (!verifyText(key, text, sig)) return { ok: false, reason: 'bad_signature', detail: 'signature does not verify with the configured key' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed_json', detail: 'signed text is not JSON' };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: 'schema', detail: describeIssues(parsed.error) };
  const room = (parsed.data as { roomId?: unknown }).roomId;
  if (room !== roomId) return { ok: false, reason: 'wrong_room', detail: 'signed for another room' };
  return { ok: true, value: parsed.data };
}

/**
 * What is persisted: the exact signed envelope, re-verified on load (the database is not trusted
 * more than the wire).
 */
export const ROOM_CONFIG = defineSetting('uplink.roomConfig', signedConfigSchema);

export function persistRoomConfig(store: SettingsLedger, envelope: { config: string; sig: string }): void {
  store.writeSetting(ROOM_CONFIG, { v: 1, config: envelope.config, sig: envelope.sig });
}

/** The persisted config when it is there, readable, signed by key and for this room; otherwise null. */
export function loadRoomConfig(store: SettingsLedger, key: KeyObject, roomId: string): RoomConfig | null {
  const env = store.readSetting(ROOM_CONFIG);
  if (env.status !== 'ok') return null;
  const r = verifySigned(env.value.config, env.value.sig, key, roomConfigSchema, roomId);
  return r.ok ? r.value : null;
}
