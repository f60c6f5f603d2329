// The risk state (failures, lockouts, velocity windows) kept in the ledger's settings, so a
// restart does not wipe a lockout or hand a prober fresh attempts. Cards are keyed by
// ledger.cardKey (an HMAC of the UID), never the UID itself: the file holds no card numbers.
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import { emptyRiskState, pruneRiskState, riskStateSchema, type RiskConfig, type RiskState } from '../vend/risk.js';

export const RISK_STATE_KEY = 'risk.state';

/** The stored state, pruned; an unreadable value is logged and ignored (the empty state). */
export function loadRiskState(ledger: Ledger, config: RiskConfig, now: number, log: Logger): RiskState {
  const raw = ledger.getSetting(RISK_STATE_KEY);
  if (raw === undefined) return emptyRiskState();
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    log.error({ key: RISK_STATE_KEY }, 'stored risk state is not JSON: ignored, starting empty');
    return emptyRiskState();
  }
  const parsed = riskStateSchema.safeParse(json);
  if (!parsed.success) {
    log.error({ key: RISK_STATE_KEY, issues: parsed.error.issues.length }, 'stored risk state is malformed: ignored, starting empty');
    return emptyRiskState();
  }
  const state = pruneRiskState(config, parsed.data, now);
  log.info({ cards: Object.keys(state.cards).length, readers: Object.keys(state.readers).length }, 'risk state loaded');
  return state;
}

/**
 * Prunes, then writes. Returns the pruned state, which the caller keeps. A failed write is
 * logged, not thrown: the vend or decline that changed the state has already been decided and
 * recorded, and the state stays in force in memory.
 */
export function saveRiskState(ledger: Ledger, config: RiskConfig, state: RiskState, now: number, log: Logger): RiskState {
  const pruned = pruneRiskState(config, state, now);
  try {
    ledger.setSetting(RISK_STATE_KEY, JSON.stringify(pruned));
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e), cards: Object.keys(pruned.cards).length }, 'risk state not persisted');
  }
  return pruned;
}
