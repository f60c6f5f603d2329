// The per-room key of the card UID hashes. Kept in its own file beside the database (0600), so a
// copied database alone does not hand out card numbers. Made once, on first start.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function loadOrCreateRoomSecret(path: string): Buffer {
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path}: room secret is not 64 hex digits; restore it from backup (card hashes depend on it)`);
    return Buffer.from(hex, 'hex');
  }
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(32);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${secret.toString('hex')}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
  return secret;
}
