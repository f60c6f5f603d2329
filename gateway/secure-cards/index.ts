// The secure-cards feature for the composition root: the live keys (from the key file the
// config names, which the signed key downlink also writes) and the admission gate in front of
// the engine's card path. See docs/secure-cards.md for how the daemon wires it.
import type { Logger } from '../core/log.js';
import type { KeyDownlink } from '../../protocols/mqtt/key-downlink.js';
import { toSunKeySets } from '../../protocols/secure-card/index.js';
import { SecureCardGate, type SecureCardGateLedger } from './gate.js';
import { SecureCardKeys, loadSecureCardKeys, writeSecureCardKeyFile, type SecureCardsConfig } from './keys.js';

export { SecureCardGate, type Admission, type TapSource } from './gate.js';
export { routeCardTaps, type AdmittedTap, type RouteHandlers } from './route.js';
export { SECURE_CARD_DECLINE_REASONS, decideTap, type SecureCardDeclineReason } from './decide.js';
export { SecureCardKeys, loadSecureCardKeys, parseSecureCardKeys, secureCardsConfigSchema, writeSecureCardKeyFile, type SecureCardsConfig } from './keys.js';

export interface SecureCards {
  readonly gate: SecureCardGate;
  /** Key versions live now (numbers only: fine for the status page and logs). */
  versions(): number[];
  /** Reads the key file again (after a rotation); on error the keys in use stay. */
  reloadKeys(): { ok: true; versions: number[] } | { ok: false; errors: string[] };
  /** Where the key downlink keeps its keys; null without a `secureCards` block (it is then refused). */
  readonly keyTarget: SecureCardKeyTarget | null;
}

/** What the uplink's key downlink needs (gateway/uplink/downlinks.ts). */
export interface SecureCardKeyTarget {
  /** The key message version the live keys came in; 0 for a hand-written file or none. */
  appliedVersion(): number;
  /** Writes the key file (owner-only, atomically) and makes these the live keys; throws when the file cannot be written. */
  apply(msg: KeyDownlink): { versions: number[] };
}

/**
 * Builds the feature. Without a `secureCards` block the room has no keys (every SUN tap is
 * `unknown_card`) but still declines plain reads of UIDs the card list marks secure. A key file
 * that is not there yet is no error (the room waits for the key downlink, every SUN tap
 * `unknown_card` until then); one that does not load (mode, JSON, schema) throws, with its problems.
 */
export function openSecureCards(cfg: SecureCardsConfig | undefined, deps: { ledger: SecureCardGateLedger; logger: Logger }): SecureCards {
  const log = deps.logger.child({ component: 'secure-cards' });
  let keys = new SecureCardKeys([]);
  if (cfg !== undefined) {
    const r = loadSecureCardKeys(cfg.keyFile);
    if (r.ok) keys = r.keys;
    else if (r.missing === true) log.warn({ keyFile: cfg.keyFile }, 'no secure-card key file yet: every secure tap is declined unknown_card until the key downlink or the operator provides one');
    else throw new Error(r.errors.join('; '));
  }
  log.info({ keyVersions: keys.versions, refusePlainCards: cfg?.refusePlainCards ?? false }, 'secure cards ready');
  const gate = new SecureCardGate({ ledger: deps.ledger, keys: () => keys.sets, policy: { refusePlainCards: cfg?.refusePlainCards ?? false }, logger: deps.logger });
  return {
    gate,
    versions: () => keys.versions,
    reloadKeys: () => {
      if (cfg === undefined) return { ok: false, errors: ['no secureCards block in the config'] };
      const r = loadSecureCardKeys(cfg.keyFile);
      if (!r.ok) {
        log.error({ errors: r.errors }, 'secure-card keys not reloaded; the previous ones stay');
        return r;
      }
      keys = r.keys;
      log.info({ keyVersions: keys.versions }, 'secure-card keys reloaded');
      return { ok: true, versions: keys.versions };
    },
    keyTarget:
      cfg === undefined
        ? null
        : {
            appliedVersion: () => keys.downlinkVersion,
            apply: (msg) => {
              // The file first: keys live only once they would survive a restart.
              writeSecureCardKeyFile(cfg.keyFile, msg.keys, msg.version);
              keys = new SecureCardKeys(toSunKeySets(msg.keys), msg.version);
              log.info({ keyVersions: keys.versions, downlinkVersion: msg.version }, 'secure-card keys applied from the key downlink');
              return { versions: keys.versions };
            },
          },
  };
}
