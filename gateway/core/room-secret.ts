// The room secret (format and reading in storage/room-secret.ts) is made once, on first start.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatRoomSecret, readRoomSecret, ROOM_SECRET_BYTES } from '../../storage/room-secret.js';

export function loadOrCreateRoomSecret(path: string): Buffer {
  if (existsSync(path)) {
    try {
      return readRoomSecret(path);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; restore it from backup (card hashes depend on it)`);
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(ROOM_SECRET_BYTES);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, formatRoomSecret(secret), { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
  return secret;
}
