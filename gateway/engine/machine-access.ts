// What the vend engine needs from the machines, whatever bus they hang on: the latest polled
// state, a fresh read, the programs, and the command object. Pollers of every bus together
// implement it, so the engine never knows about buses.
import type { Poller, ReadNowResult } from '../machines/poller.js';
import type { StateEvent } from '../machines/poller-types.js';
import type { MachineState, ProgramInfo } from '../machines/state.js';
import type { MachineCommands } from '../profiles/types.js';

export interface MachineAccess {
  has(machineId: string): boolean;
  state(machineId: string): MachineState | null;
  readNow(machineId: string): Promise<ReadNowResult>;
  programs(machineId: string): ProgramInfo[];
  commander(machineId: string): MachineCommands;
  machineIds(): string[];
  /** Every polled state change of every machine; returns the unsubscribe. */
  onState(listener: (e: StateEvent) => void): () => void;
}

export function machinesOf(pollers: readonly Poller[]): MachineAccess {
  const owner = (machineId: string): Poller | undefined => pollers.find((p) => p.hasMachine(machineId));
  const must = (machineId: string): Poller => {
    const p = owner(machineId);
    if (p === undefined) throw new Error(`no machine ${machineId} in this room`);
    return p;
  };
  return {
    has: (id) => owner(id) !== undefined,
    state: (id) => owner(id)?.state(id) ?? null,
    readNow: (id) => must(id).readNow(id),
    programs: (id) => owner(id)?.programs(id) ?? [],
    commander: (id) => must(id).commander(id),
    machineIds: () => pollers.flatMap((p) => p.machineIds()),
    onState: (listener) => {
      for (const p of pollers) p.on('state', listener);
      return () => {
        for (const p of pollers) p.off('state', listener);
      };
    },
  };
}
