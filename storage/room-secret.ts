// The per-room key of the card UID hashes, kept in its own file beside the database (0600) so a
// copied database alone does not hand out card numbers. Its format is defined here, with the
// hashes that depend on it; the daemon creates it on first start (gateway/core/room-secret.ts).
import { readFileSync } from 'node:fs';

export const ROOM_SECRET_BYTES = 32;

/** The file's text (64 lowercase hex digits and a newline) as the key, or a reason it is not one. */
export function parseRoomSecret(text: string): { ok: true; secret: Buffer } | { ok: false; reason: string } {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) return { ok: false, reason: 'room secret is not 64 hex digits' };
  return { ok: true, secret: Buffer.from(hex, 'hex') };
}

export function formatRoomSecret(secret: Buffer): string {
  return `${secret.toString('hex')}\n`;
}

export class RoomSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoomSecretError';
  }
}

/** Reads an existing room secret; throws RoomSecretError saying why it cannot. */
export function readRoomSecret(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : 'error';
    throw new RoomSecretError(`cannot read the room secret ${path} (${code})`);
  }
  const r = parseRoomSecret(text);
  if (!r.ok) throw new RoomSecretError(`${path}: ${r.reason}`);
  return r.secret;
}
