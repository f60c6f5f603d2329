// The per-room key of the card UID hashes. Kept in its own file beside the database (0600), so a
// copied database alone does not hand out card numbers. Made once, on first start.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** `onWarning` hears of a secret that others could read (its mode is then set back to 0600). */
export function loadOrCreateRoomSecret(path: string, onWarning?: (message: string) => void): Buffer {
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      // Whoever read it can turn the ledger's card hashes back into card numbers: close it now.
      chmodSync(path, 0o600);
      onWarning?.(`room secret ${path} had mode ${mode.toString(8).padStart(3, '0')} (readable beyond the service user); set to 600. If others could read it, treat it as known to them.`);
    }
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${path}: room secret is not 64 hex digits; restore it from backup (card hashes depend on it)`);
    return Buffer.from(hex, 'hex');
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  const secret = randomBytes(32);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${secret.toString('hex')}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
  return secret;
}
