// Panel codes and meanings of the LW-485 fault register (shared/specs/lw485-controller.md,
// "Faults"), so the page shows what the machine's own display shows.
const LW485_FAULTS: Readonly<Record<number, string>> = {
  1: 'no water inlet',
  2: 'drain blocked',
  3: 'door lock failure',
  4: 'unbalanced load',
  5: 'heater',
  6: 'motor',
  7: 'over-temperature',
  8: 'lint filter blocked',
};

export interface FaultView {
  code: number;
  /** As the machine's panel shows it: E01…E99. */
  panel: string;
  text: string;
}

export function faultView(code: number | null): FaultView | null {
  if (code === null || code === 0) return null;
  const panel = `E${String(code).padStart(2, '0')}`;
  return { code, panel, text: LW485_FAULTS[code] ?? 'unknown fault' };
}
