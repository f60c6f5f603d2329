// The one place the cloud signs downlinks. Every signed downlink has the envelope
// { v, <field>: "<JSON text>", sig } with an Ed25519 signature over the exact UTF-8 bytes of that
// text, and the text carries its own `type` and `roomId` (so a text signed as one kind, or for one
// room, is never accepted as another). A new signed kind is one line in SIGNED_DOWNLINKS.
import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { WIRE_VERSION, remoteCommandSchema } from '../protocols/mqtt/payloads.js';
import { signText } from '../protocols/mqtt/signing.js';
import type { DownName } from '../protocols/mqtt/topics.js';
import { roomConfigSchema } from '../gateway/uplink/room-config.js';

export interface SignedKind {
  /** The downlink topic name. */
  topic: DownName;
  /** The envelope field holding the signed text. */
  field: string;
  /** The inner `type` the gateway requires. */
  type: string;
  /** The inner schema the gateway parses with: the cloud never signs what a gateway would refuse. */
  schema: z.ZodType;
  /** Whether the message is published retained (configs: yes, the latest on every subscribe; commands: never). */
  retain: boolean;
}

export const SIGNED_DOWNLINKS = {
  config: { topic: 'config', field: 'config', type: 'room-config', schema: roomConfigSchema, retain: true },
  command: { topic: 'commands', field: 'command', type: 'remote-command', schema: remoteCommandSchema, retain: false },
} as const satisfies Record<string, SignedKind>;

export type SignedDownlinkKind = keyof typeof SIGNED_DOWNLINKS;

export interface SignedMessage {
  topic: DownName;
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
  const inner = { type: spec.type, roomId, ...body };
  const checked = spec.schema.safeParse(inner);
  if (!checked.success) throw new Error(`${kind}: not signed, the gateway would refuse it: ${checked.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  const text = JSON.stringify(inner);
  return { topic: spec.topic, payload: JSON.stringify({ v: WIRE_VERSION, [spec.field]: text, sig: signText(key, text) }), retain: spec.retain };
}
