// The room secret (format and reading in storage/room-secret.ts) is made once, on first start.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatRoomSecret, readRoomSecret, ROOM_SECRET_BYTES } from '../../storage/room-secret.js';

/** `onWarning` hears of a secret that others could read (its mode is then set back to 0600). */
export function loadOrCreateRoomSecret(path: string, onWarning?: (message: string) => void): Buffer {
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      // Whoever read it can turn the ledger's card hashes back into card numbers: close it now.
      chmodSync(path, 0o600);
      onWarning?.(`room secret ${path} had mode ${mode.toString(8).padStart(3, '0')} (readable beyond the service user); set to 600. If others could read it, treat it as known to them.`);
    }
    try {
      return readRoomSecret(path);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; restore it from backup (card hashes depend on it)`);
    }
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  const secret = randomBytes(ROOM_SECRET_BYTES);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, formatRoomSecret(secret), { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
  return secret;
}
