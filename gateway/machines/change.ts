// What counts as a change worth telling the world: MQTT state messages and vend decisions follow
// these, while the countdown of remaining seconds goes out as a light tick every poll cycle.
import type { MachineState } from './state.js';

export type ChangedField = 'status' | 'program' | 'door' | 'fault' | 'credit' | 'remainingMinute' | 'kind';

/** Whole minutes left, so "12:59" → "12:00" is a change and "12:59" → "12:01" is not. */
function minuteOf(sec: number | null): number | null {
  return sec === null ? null : Math.floor(sec / 60);
}

/** The meaningful differences between two states of one machine; all of them when there was none before. */
export function stateChanges(prev: MachineState | null | undefined, next: MachineState): ChangedField[] {
  if (prev === null || prev === undefined) return ['status', 'program', 'door', 'fault', 'credit', 'remainingMinute', 'kind'];
  const out: ChangedField[] = [];
  if (prev.status !== next.status) out.push('status');
  if (prev.program !== next.program) out.push('program');
  if (prev.door?.closed !== next.door?.closed || prev.door?.locked !== next.door?.locked || (prev.door === null) !== (next.door === null)) out.push('door');
  if (prev.faultCode !== next.faultCode) out.push('fault');
  if (prev.creditCents !== next.creditCents) out.push('credit');
  if (minuteOf(prev.remainingSec) !== minuteOf(next.remainingSec)) out.push('remainingMinute');
  if (prev.kind !== next.kind) out.push('kind');
  return out;
}
