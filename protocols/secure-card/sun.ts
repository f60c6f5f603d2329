// NTAG 424 DNA Secure Unique NFC (SUN) messages, as a type S reader passes them on: a URI whose
// query carries `picc_data` (the UID and tap counter, encrypted under the operator's meta key)
// and `cmac` (a MAC under a per-card key diversified from the operator's master key). See
// ../shared/specs/secure-cards.md. Pure: bytes and text in, verdicts out; no I/O, no clock.
import { timingSafeEqual } from 'node:crypto';
import { AES_BLOCK, AesCmac, AesEcb, aesCbcEncryptZeroIv, aesCmac } from './aes.js';

/** First plaintext byte of picc_data: UID mirrored, counter mirrored, 7-byte UID (NXP "C7"). */
export const PICC_DATA_TAG = 0xc7;
export const SUN_UID_BYTES = 7;
/** The counter is 3 bytes: 0xFFFFFF is a worn-out card. */
export const SUN_MAX_COUNTER = 0xffffff;
export const PICC_DATA_HEX_CHARS = 32;
export const SUN_CMAC_HEX_CHARS = 16;
/** systemId bounds that make our diversification AN10922's (1 + 7 + 9..24 = 17..32 bytes). */
export const SYSTEM_ID_MIN = 9;
export const SYSTEM_ID_MAX = 24;
export const SYSTEM_ID_PATTERN = /^[\x20-\x7e]{9,24}$/;
/** The session-vector prefix of the SDM MAC key (AN12196, SV2). */
const SV2_PREFIX = Buffer.from([0x3c, 0xc3, 0x00, 0x01, 0x00, 0x80]);

export type SunRejectReason = 'bad_format' | 'unknown_card' | 'bad_mac';

export interface SunParts {
  piccData: Buffer;
  cmac: Buffer;
}

/** One live version of an operator's keys. Key bytes never go to a log line. */
export interface SunKeySet {
  version: number;
  metaKey: Uint8Array;
  masterKey: Uint8Array;
  systemId: string;
}

export type SunParseResult = { ok: true; parts: SunParts } | { ok: false; reason: 'bad_format'; detail: string };

export type SunVerifyResult =
  | { ok: true; uid: string; counter: number; keyVersion: number }
  | { ok: false; reason: SunRejectReason; detail: string };

const HEX = /^[0-9A-Fa-f]*$/;

/**
 * Takes `picc_data` and `cmac` out of the URI's query, in any order; other parameters are the
 * operator's and ignored. A parameter given twice is refused: which one would the card have meant?
 */
export function parseSunUri(text: string): SunParseResult {
  // The fragment comes after the query; a '?' inside it starts nothing.
  const hash = text.indexOf('#');
  const uri = hash < 0 ? text : text.slice(0, hash);
  const q = uri.indexOf('?');
  if (q < 0) return { ok: false, reason: 'bad_format', detail: 'no query string' };
  const query = uri.slice(q + 1);
  let picc: string | undefined;
  let cmac: string | undefined;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (name === 'picc_data') {
      if (picc !== undefined) return { ok: false, reason: 'bad_format', detail: 'picc_data given twice' };
      picc = value;
    } else if (name === 'cmac') {
      if (cmac !== undefined) return { ok: false, reason: 'bad_format', detail: 'cmac given twice' };
      cmac = value;
    }
  }
  if (picc === undefined || cmac === undefined) return { ok: false, reason: 'bad_format', detail: 'picc_data and cmac are both needed' };
  if (picc.length !== PICC_DATA_HEX_CHARS || !HEX.test(picc)) return { ok: false, reason: 'bad_format', detail: 'picc_data is not 32 hex characters' };
  if (cmac.length !== SUN_CMAC_HEX_CHARS || !HEX.test(cmac)) return { ok: false, reason: 'bad_format', detail: 'cmac is not 16 hex characters' };
  return { ok: true, parts: { piccData: Buffer.from(picc, 'hex'), cmac: Buffer.from(cmac, 'hex') } };
}

/**
 * The static half of a key set made ready once (AES contexts, CMAC subkeys): per tap only the
 * card key and the session key are new. Keyed by the key set object, whose bytes do not change
 * while it is live; a reload brings new objects, and the old ones are collected with their entry.
 */
interface PreparedKeySet {
  meta: AesEcb;
  master: AesCmac;
}
const prepared = new WeakMap<SunKeySet, PreparedKeySet>();

function prepare(k: SunKeySet): PreparedKeySet {
  let p = prepared.get(k);
  if (p === undefined) {
    p = { meta: new AesEcb(k.metaKey), master: new AesCmac(k.masterKey) };
    prepared.set(k, p);
  }
  return p;
}

function openPicc(meta: AesEcb, piccData: Uint8Array): { uid: Buffer; counter: number } | null {
  if (piccData.length !== AES_BLOCK) return null;
  // One block of CBC with a zero IV is one block of ECB.
  const plain = meta.decryptBlock(piccData);
  if (plain[0] !== PICC_DATA_TAG) return null;
  const uid = Buffer.from(plain.subarray(1, 1 + SUN_UID_BYTES));
  const counter = plain.readUIntLE(1 + SUN_UID_BYTES, 3);
  return { uid, counter };
}

/** Decrypts picc_data; null when its first byte is not C7 (another operator's card, or a wrong meta key). */
export function decryptPiccData(metaKey: Uint8Array, piccData: Uint8Array): { uid: Buffer; counter: number } | null {
  return openPicc(new AesEcb(metaKey), piccData);
}

/** K_card = AES-CMAC(K_master, 01 ‖ UID ‖ ASCII(systemId)): AN10922's AES-128 diversification. */
export function diversifyCardKey(masterKey: Uint8Array, uid: Uint8Array, systemId: string): Buffer {
  return diversifyWith(new AesCmac(masterKey), uid, systemId);
}

function diversifyWith(master: AesCmac, uid: Uint8Array, systemId: string): Buffer {
  if (uid.length !== SUN_UID_BYTES) throw new RangeError('a SUN UID is 7 bytes');
  if (!SYSTEM_ID_PATTERN.test(systemId)) throw new RangeError(`systemId is ${SYSTEM_ID_MIN} to ${SYSTEM_ID_MAX} printable ASCII characters`);
  return master.mac(Buffer.concat([Buffer.from([0x01]), uid, Buffer.from(systemId, 'ascii')]));
}

function counterBytes(counter: number): Buffer {
  if (!Number.isInteger(counter) || counter < 0 || counter > SUN_MAX_COUNTER) throw new RangeError('a SUN counter is 0..0xFFFFFF');
  const b = Buffer.alloc(3);
  b.writeUIntLE(counter, 0, 3);
  return b;
}

/** KS = AES-CMAC(K_card, 3C C3 00 01 00 80 ‖ UID ‖ counter LSB first). */
export function sdmSessionMacKey(cardKey: Uint8Array, uid: Uint8Array, counter: number): Buffer {
  return aesCmac(cardKey, Buffer.concat([SV2_PREFIX, uid, counterBytes(counter)]));
}

/** The 8-byte SUN MAC: AES-CMAC(KS, empty), its odd-indexed bytes (1, 3, ... 15). */
export function sdmMac(cardKey: Uint8Array, uid: Uint8Array, counter: number): Buffer {
  const full = aesCmac(sdmSessionMacKey(cardKey, uid, counter), Buffer.alloc(0));
  const out = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) out[i] = full[2 * i + 1] ?? 0;
  return out;
}

/**
 * The gateway's check of one SUN message against the live key versions, newest first. A meta key
 * that decrypts to C7 names the UID and counter; the MAC must then match under that version's
 * diversified key. With a wrong key a C7 comes up by chance once in 256 tries, so every version
 * that decrypts to C7 is tried before the verdict is `bad_mac`.
 */
export function verifySun(parts: SunParts, keySets: readonly SunKeySet[]): SunVerifyResult {
  if (parts.piccData.length !== AES_BLOCK || parts.cmac.length !== 8) return { ok: false, reason: 'bad_format', detail: 'wrong lengths' };
  const ordered = [...keySets].sort((a, b) => b.version - a.version);
  let decrypted = false;
  for (const k of ordered) {
    const p = prepare(k);
    const picc = openPicc(p.meta, parts.piccData);
    if (picc === null) continue;
    decrypted = true;
    const expected = sdmMac(diversifyWith(p.master, picc.uid, k.systemId), picc.uid, picc.counter);
    if (timingSafeEqual(expected, parts.cmac)) return { ok: true, uid: picc.uid.toString('hex').toUpperCase(), counter: picc.counter, keyVersion: k.version };
  }
  if (!decrypted) return { ok: false, reason: 'unknown_card', detail: keySets.length === 0 ? 'no keys loaded' : 'picc_data does not decrypt under any live meta key' };
  return { ok: false, reason: 'bad_mac', detail: 'the MAC does not match' };
}

/** parseSunUri then verifySun: the whole check of one type S line. */
export function verifySunUri(text: string, keySets: readonly SunKeySet[]): SunVerifyResult {
  const p = parseSunUri(text);
  if (!p.ok) return p;
  return verifySun(p.parts, keySets);
}

export interface EncodeSunOptions {
  /** Host and path of the card's URI record; the gateway ignores them. */
  baseUrl?: string;
  metaKey: Uint8Array;
  /** The card's own key (K_card); give masterKey and systemId instead to diversify it here. */
  cardKey?: Uint8Array;
  masterKey?: Uint8Array;
  systemId?: string;
  /** 14 hex characters. */
  uid: string;
  counter: number;
  /** The 5 random bytes of picc_data; zeros if absent (tests want fixed output). */
  random?: Uint8Array;
}

/** What a card's NDEF URI reads at one tap: for the simulator, the CLI's tests and vectors. */
export function encodeSunUri(o: EncodeSunOptions): string {
  if (!/^[0-9A-Fa-f]{14}$/.test(o.uid)) throw new RangeError('a SUN UID is 14 hex characters');
  const uid = Buffer.from(o.uid, 'hex');
  const random = Buffer.alloc(5);
  if (o.random) random.set(o.random.subarray(0, 5));
  const plain = Buffer.concat([Buffer.from([PICC_DATA_TAG]), uid, counterBytes(o.counter), random]);
  const picc = aesCbcEncryptZeroIv(o.metaKey, plain);
  let cardKey = o.cardKey;
  if (cardKey === undefined) {
    if (o.masterKey === undefined || o.systemId === undefined) throw new RangeError('cardKey, or masterKey and systemId');
    cardKey = diversifyCardKey(o.masterKey, uid, o.systemId);
  }
  const mac = sdmMac(cardKey, uid, o.counter);
  const base = o.baseUrl ?? 'https://c.example/t';
  return `${base}?picc_data=${picc.toString('hex').toUpperCase()}&cmac=${mac.toString('hex').toUpperCase()}`;
}
