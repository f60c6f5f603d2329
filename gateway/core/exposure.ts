// What an installer can get wrong that hands secrets to someone else on the Pi or the LAN: a
// status page listening beyond loopback over plain HTTP (the operator token crosses the network
// in clear text), and config, secret or ledger files that other users can read. Said at start
// (log), on the status page and by `doctor`; nothing here refuses to start, since a room that
// stops vending over a file mode hurts more than the warning.
import { statSync } from 'node:fs';
import { isIP } from 'node:net';

/** Loopback only: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return /^::ffff:127\./.test(h);
}

/** The page's listener, as a warning, or null when it is loopback only. */
export function listenWarning(host: string, tokenSet: boolean): string | null {
  if (isLoopbackHost(host)) return null;
  return (
    `the status page listens on ${host} over plain HTTP: anyone on that network can read it` +
    (tokenSet ? ', and the operator token crosses it in clear text' : '') +
    '; keep web.host on 127.0.0.1 and reach it through an SSH tunnel or a TLS proxy'
  );
}

/** A file other users may read (or write), as a warning; null when fine or absent. */
export function fileModeWarning(what: string, path: string): string | null {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return null;
  }
  if ((mode & 0o007) === 0) return null;
  return `${what} ${path} is readable by other users (mode ${mode.toString(8).padStart(3, '0')}): chmod o-rwx ${path}`;
}
