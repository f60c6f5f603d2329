// The risk state (failures, lockouts, velocity windows) kept in the ledger's settings, so a
// restart does not wipe a lockout or hand a prober fresh attempts. Cards are keyed by
// ledger.cardKey (an HMAC of the UID), never the UID itself: the file holds no card numbers.
import type { Logger } from '../core/log.js';
import { defineSetting, type SettingsLedger } from '../../storage/index.js';
import { emptyRiskState, pruneRiskState, riskStateSchema, type RiskConfig, type RiskState } from '../vend/risk.js';

export const RISK_STATE_KEY = 'risk.state';
/** The persisted risk state: JSON that riskStateSchema checks on every read and write. */
export const RISK_STATE = defineSetting(RISK_STATE_KEY, riskStateSchema);

/** The stored state, pruned; an unreadable value is logged and ignored (the empty state). */
export function loadRiskState(ledger: SettingsLedger, config: RiskConfig, now: number, log: Logger): RiskState {
  const stored = ledger.readSetting(RISK_STATE);
  if (stored.status === 'missing') return emptyRiskState();
  if (stored.status === 'unreadable') {
    log.error({ key: RISK_STATE_KEY, reason: stored.reason, detail: stored.detail }, 'stored risk state is unreadable: ignored, starting empty');
    return emptyRiskState();
  }
  const state = pruneRiskState(config, stored.value, now);
  log.info({ cards: Object.keys(state.cards).length, readers: Object.keys(state.readers).length }, 'risk state loaded');
  return state;
}

/**
 * Prunes, then writes. Returns the pruned state, which the caller keeps. A failed write is
 * logged, not thrown: the vend or decline that changed the state has already been decided and
 * recorded, and the state stays in force in memory.
 */
export function saveRiskState(ledger: SettingsLedger, config: RiskConfig, state: RiskState, now: number, log: Logger): RiskState {
  const pruned = pruneRiskState(config, state, now);
  try {
    ledger.writeSetting(RISK_STATE, pruned);
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e), cards: Object.keys(pruned.cards).length }, 'risk state not persisted');
  }
  return pruned;
}
