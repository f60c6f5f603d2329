// Whether a machine can take a vend right now, judged from its latest polled state, and which
// program a card vend is for. Pure; the device facts are the machine's profile's to judge.
import type { MachineState, ProgramInfo } from '../machines/state.js';
import { admitsNewVend } from '../profiles/evidence.js';
import type { ReasonCode } from '../vend/reasons.js';

export function admissionReason(state: MachineState | null): ReasonCode | null {
  if (state === null) return 'machine_offline';
  switch (state.status) {
    case 'idle':
    case 'done':
      // A machine may show idle while the device is still busy with an earlier credit (a coin
      // train settled at start-up runs on): its profile reads that from the device facts.
      return admitsNewVend(state) ? null : 'machine_busy';
    case 'offline':
      return 'machine_offline';
    case 'fault':
      return 'machine_fault';
    case 'service':
      return 'machine_service';
    case 'credited':
    case 'running':
    case 'paused':
      return 'machine_busy';
  }
}

/**
 * The user picks the program on the machine's panel, then pays. With nothing selected (or a
 * coin machine, which cannot tell) the vend is for the machine's first program: documented in
 * docs/vend-engine.md so the price a user sees on the panel's first program is what is charged.
 */
export function chooseProgram(state: MachineState, programs: readonly ProgramInfo[]): number {
  if (state.selectedProgram !== null && state.selectedProgram > 0) return state.selectedProgram;
  return programs[0]?.program ?? 1;
}
