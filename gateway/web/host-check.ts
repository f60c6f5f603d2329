// The Host allowlist against DNS rebinding: a page on evil.example whose name is re-pointed at the
// gateway's address makes the victim's browser send requests here with "Host: evil.example",
// as same-origin to that page. Only IP literals, localhost and the names the operator lists in
// web.allowedHosts are answered; anything else is 421 with the reason, on every endpoint.
import { isIP } from 'node:net';

export type HostVerdict = { ok: true } | { ok: false; reason: string };

/** The name part of a Host header: port dropped, brackets of an IPv6 literal removed, lower case. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (bracketed) return bracketed[1] ?? '';
  const colon = h.lastIndexOf(':');
  const name = colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function checkHost(header: string | undefined, allowed: readonly string[]): HostVerdict {
  // HTTP/1.0 clients may send none; browsers always do, and node refuses HTTP/1.1 without one.
  if (header === undefined) return { ok: true };
  const name = hostName(header);
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return { ok: true };
  if (allowed.some((a) => a.toLowerCase().replace(/\.$/, '') === name)) return { ok: true };
  return { ok: false, reason: `this gateway does not answer to the name "${name.slice(0, 100)}": use its IP address, or add the name to web.allowedHosts` };
}
