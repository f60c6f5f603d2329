// What PostgreSQL cannot hold as a gateway sent it. JSON (and a JS string) may carry U+0000 and
// lone UTF-16 surrogates; PostgreSQL's text refuses U+0000 (22021) and its jsonb refuses both
// escapes (22P05, 22P02). One such record failed its whole ingest transaction, with every other
// gateway's batches in the group, at each retry, and the gateway resent it forever: one record
// stopped its room's stream. Such text is made storable here (U+FFFD in place of each, as the
// UTF-8 encoding of a lone surrogate already gives) and the record stored with the reason in
// `problem`; an envelope field that names or anchors a stream (the gateway id, a chain head's
// hash) is refused instead, since a changed one would be another stream. Pure.

/** U+0000, a high surrogate not followed by a low one, a low surrogate not after a high one. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const UNSTORABLE_ONE = new RegExp(UNSTORABLE.source);

/**
 * In JSON.stringify's output each of them is an escape (`\u0000`, `\udXXX`): text with neither
 * holds none (other text may match too: \\u0000 is a backslash then "u0000"; the walk decides).
 */
const MAYBE_IN_JSON = /\\u0000|\\ud[89a-f]/;

/** Any U+0000 or surrogate at all: a plain class, cheaper than UNSTORABLE's lookarounds, false for nearly every text. */
const SUSPECT = /[\u0000\ud800-\udfff]/;

export function storableText(s: string): string {
  return SUSPECT.test(s) && UNSTORABLE_ONE.test(s) ? s.replace(UNSTORABLE, '\ufffd') : s;
}

export function isStorableText(s: string): boolean {
  return !SUSPECT.test(s) || !UNSTORABLE_ONE.test(s);
}

/**
 * A payload's JSON text PostgreSQL's jsonb takes: `json` itself (JSON.stringify of `value`) when
 * it holds no U+0000 or lone surrogate, else the value with each replaced (in strings and keys)
 * stringified again, and `changed` true.
 */
export function storableJson(value: unknown, json: string): { json: string; changed: boolean } {
  // indexOf first: most payloads hold no escape at all, and this runs for every record.
  if (json.indexOf('\\u') === -1 || !MAYBE_IN_JSON.test(json)) return { json, changed: false };
  let changed = false;
  const walk = (x: unknown): unknown => {
    if (typeof x === 'string') {
      const s = storableText(x);
      if (s !== x) changed = true;
      return s;
    }
    if (Array.isArray(x)) return x.map(walk);
    if (typeof x === 'object' && x !== null) {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x)) Object.defineProperty(o, walkKey(k), { value: walk(v), enumerable: true, writable: true, configurable: true });
      return o;
    }
    return x;
  };
  const walkKey = (k: string): string => {
    const s = storableText(k);
    if (s !== k) changed = true;
    return s;
  };
  const out = walk(value);
  return changed ? { json: JSON.stringify(out), changed } : { json, changed };
}

/**
 * Deepest nesting of JSON the ingest stores. No gateway payload comes near it (ours are a few
 * levels); JSON.stringify throws past ~5 000 levels (a RangeError that ended the worker, and
 * the gateway's resend of the batch then ended whichever worker took it) and PostgreSQL's jsonb
 * refuses past a few thousand (stack depth, 54001, failing the transaction). Deeper is refused
 * at read.
 */
export const MAX_JSON_DEPTH = 1000;

/** Whether JSON text nests arrays and objects deeper than `max`. Text under 2·max+2 characters cannot: not scanned. */
export function jsonDeeperThan(json: string, max: number = MAX_JSON_DEPTH): boolean {
  if (json.length < 2 * max + 2) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
