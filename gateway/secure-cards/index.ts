// The secure-cards feature for the composition root: the live keys (from the key file the
// config names) and the admission gate in front of the engine's card path. See
// docs/secure-cards.md for how the daemon wires it.
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import { SecureCardGate } from './gate.js';
import { SecureCardKeys, loadSecureCardKeys, type SecureCardsConfig } from './keys.js';

export { SecureCardGate, type Admission, type TapSource } from './gate.js';
export { routeCardTaps, type AdmittedTap } from './route.js';
export { SECURE_CARD_DECLINE_REASONS, decideTap, type SecureCardDeclineReason } from './decide.js';
export { SecureCardKeys, loadSecureCardKeys, parseSecureCardKeys, secureCardsConfigSchema, type SecureCardsConfig } from './keys.js';

export interface SecureCards {
  readonly gate: SecureCardGate;
  /** Key versions live now (numbers only: fine for the status page and logs). */
  versions(): number[];
  /** Reads the key file again (after a rotation); on error the keys in use stay. */
  reloadKeys(): { ok: true; versions: number[] } | { ok: false; errors: string[] };
}

/**
 * Builds the feature. Without a `secureCards` block the room has no keys (every SUN tap is
 * `unknown_card`) but still declines plain reads of UIDs the card list marks secure.
 * Throws, with the file's problems, when the block names a key file that does not load.
 */
export function openSecureCards(cfg: SecureCardsConfig | undefined, deps: { ledger: Pick<Ledger, 'secureCardFacts' | 'recordDecline' | 'appendAlert'>; logger: Logger }): SecureCards {
  const log = deps.logger.child({ component: 'secure-cards' });
  let keys = new SecureCardKeys([]);
  if (cfg !== undefined) {
    const r = loadSecureCardKeys(cfg.keyFile);
    if (!r.ok) throw new Error(r.errors.join('; '));
    keys = r.keys;
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
  };
}
