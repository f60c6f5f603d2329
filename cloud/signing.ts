// What the cloud signs, and the check before it signs. The envelope itself
// ({ v, <field>: "<JSON text>", sig }, Ed25519 over the exact text, which carries its own `type`
// and `roomId`) is made by protocols/mqtt/sign-downlink.ts, the one signing module the reference
// consumer uses too. Here each kind names its topic, whether it is published retained, and the
// gateway's own inner schema: the cloud never signs what a gateway would refuse. A new signed
// kind is one line in SIGNED_DOWNLINKS.
import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { accountsSchema, cardListSchema, remoteCommandSchema, topUpsSchema } from '../protocols/mqtt/payloads.js';
import { signDownlink as envelope, SIGNED_DOWNLINKS as ENVELOPES, type SignedDownName } from '../protocols/mqtt/sign-downlink.js';
import { roomConfigSchema } from '../gateway/uplink/room-config.js';

export interface SignedKind {
  /** The downlink topic name (and the envelope it takes). */
  topic: SignedDownName;
  /** The inner schema the gateway parses with. */
  schema: z.ZodType;
  /** Whether the message is published retained (configs: yes, the latest on every subscribe; the rest: never). */
  retain: boolean;
}

export const SIGNED_DOWNLINKS = {
  config: { topic: 'config', schema: roomConfigSchema, retain: true },
  command: { topic: 'commands', schema: remoteCommandSchema, retain: false },
  cards: { topic: 'cards', schema: cardListSchema, retain: false },
  accounts: { topic: 'accounts', schema: accountsSchema, retain: false },
  topups: { topic: 'topups', schema: topUpsSchema, retain: false },
} as const satisfies Record<string, SignedKind>;

export type SignedDownlinkKind = keyof typeof SIGNED_DOWNLINKS;

export interface SignedMessage {
  topic: SignedDownName;
  payload: string;
  retain: boolean;
}

/**
 * The signed envelope for `body` (the inner object without `type` and `roomId`, which are added
 * here). Throws when the inner object fails the gateway's schema.
 */
export function signDownlink(kind: SignedDownlinkKind, roomId: string, body: Record<string, unknown>, key: KeyObject): SignedMessage {
  const spec: SignedKind = SIGNED_DOWNLINKS[kind];
  if ('type' in body || 'roomId' in body) throw new Error(`${kind}: type and roomId are set by the signer, not the body`);
  const inner = { type: ENVELOPES[spec.topic].type, roomId, ...body };
  const checked = spec.schema.safeParse(inner);
  if (!checked.success) throw new Error(`${kind}: not signed, the gateway would refuse it: ${checked.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return { topic: spec.topic, payload: envelope(key, spec.topic, roomId, body).envelope, retain: spec.retain };
}
