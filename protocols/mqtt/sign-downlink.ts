// The signing side of every signed downlink, for the cloud (and the reference consumer): one
// envelope for all of them, `{ "v": 1, "<field>": "<JSON text>", "sig": "<Ed25519 over that text>" }`,
// where the text is a JSON object that starts with its `type` and the `roomId` it is for. The
// gateway checks the signature with the one cloud key (mqtt.configPublicKey) before it parses
// the text; `type` keeps a text signed for one topic from passing on another, `roomId` keeps
// one room's message out of another room. Pure computation, no key storage.
import type { KeyObject } from 'node:crypto';
import { WIRE_VERSION } from './payloads.js';
import { signText } from './signing.js';
import type { DownName } from './topics.js';

/** Per signed topic: the envelope field holding the text, and the text's `type`. */
export const SIGNED_DOWNLINKS = {
  config: { field: 'config', type: 'room-config' },
  commands: { field: 'command', type: 'remote-command' },
  cards: { field: 'cards', type: 'card-list' },
  accounts: { field: 'accounts', type: 'account-snapshots' },
  topups: { field: 'topUps', type: 'top-ups' },
  keys: { field: 'keys', type: 'secure-card-keys' },
} as const satisfies Record<Exclude<DownName, 'ack'>, { field: string; type: string }>;

export type SignedDownName = keyof typeof SIGNED_DOWNLINKS;

/** The signed text and its envelope. `body` is the message without `type` and `roomId`. */
export function signDownlink(key: KeyObject, name: SignedDownName, roomId: string, body: object): { text: string; envelope: string } {
  const { field, type } = SIGNED_DOWNLINKS[name];
  // type and roomId first (readable), and never overridden by the body.
  const text = JSON.stringify(Object.assign({ type, roomId }, body, { type, roomId }));
  return { text, envelope: JSON.stringify({ v: WIRE_VERSION, [field]: text, sig: signText(key, text) }) };
}
