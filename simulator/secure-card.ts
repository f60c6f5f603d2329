// A simulated NTAG 424 DNA secure card (../shared/specs/secure-cards.md), as the operator's
// encoding station leaves it: its UID, the operator's meta key, its own key diversified from the
// master key, and a tap counter that starts at 0. Each tap() is what a type S reader sends for
// that tap: a fresh SUN URI with the next counter. copyUid() is what a copier gets from it. For
// the demo and tests: feed the lines to a ReaderEmulator of type 'sun'.
import { randomBytes } from 'node:crypto';
import { SUN_MAX_COUNTER, diversifyCardKey, encodeSunUri, type SunKeySet } from '../protocols/secure-card/index.js';

export interface SecureCardOptions {
  /** 14 hex characters (a 7-byte NXP UID). */
  uid: string;
  /** The operator's key version the card is encoded under. */
  keys: SunKeySet;
  /** The counter of the next tap; 0 for a card fresh from the station. */
  counter?: number;
  baseUrl?: string;
  /** The 5 random bytes of each message; injected for reproducible tests. */
  random?: () => Uint8Array;
}

export class SimSecureCard {
  readonly uid: string;
  readonly keyVersion: number;
  private readonly metaKey: Uint8Array;
  private readonly cardKey: Buffer;
  private readonly baseUrl: string;
  private readonly random: () => Uint8Array;
  private next: number;

  constructor(o: SecureCardOptions) {
    if (!/^[0-9A-F]{14}$/.test(o.uid)) throw new RangeError('a secure card UID is 14 uppercase hex characters');
    this.uid = o.uid;
    this.keyVersion = o.keys.version;
    this.metaKey = Buffer.from(o.keys.metaKey);
    this.cardKey = diversifyCardKey(o.keys.masterKey, Buffer.from(o.uid, 'hex'), o.keys.systemId);
    this.baseUrl = o.baseUrl ?? 'https://c.example/t';
    this.random = o.random ?? (() => randomBytes(5));
    this.next = o.counter ?? 0;
  }

  /** The counter the next tap will carry. */
  get counter(): number {
    return this.next;
  }

  /** One tap: the URI text the card's NDEF file reads now; the counter moves on. */
  tap(): string {
    if (this.next > SUN_MAX_COUNTER) throw new Error('the card is worn out (counter at 0xFFFFFF)');
    const line = encodeSunUri({ baseUrl: this.baseUrl, metaKey: this.metaKey, cardKey: this.cardKey, uid: this.uid, counter: this.next, random: this.random() });
    this.next++;
    return line;
  }

  /** What a type S reader sends for a copy of this card (a blank card with its UID only). */
  copyUidLine(): string {
    return `UID:${this.uid}`;
  }
}
