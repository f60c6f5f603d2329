// CM-1 credit meter: a small vend controller for one machine that proves a credit by a counter
// register (it counts every credit it started, since power-up). Register map and pure decoders.
// It is the third device model of the gateway, kept small on purpose: docs/device-profiles.md
// shows with it which files a device model adds (gateway/profiles/ only).
import type { MachineCapabilities, MachineKind, MachineState, ProgramInfo } from '../machines/state.js';
import type { MeterUnitConfig } from './config-schema.js';
import { CREDIT_ONLY_CAPABILITIES, ProfileError, blankState, type ReadBlock } from './types.js';

/** Holding registers (fc03; the credit is one fc06 write). */
export const METER = {
  /** 0: model code, 1: firmware (major << 8 | minor). */
  identityBlock: { fc: 3, address: 0, quantity: 2, label: 'meter identity' } satisfies ReadBlock,
  /** 2: status (0 idle, 1 running, 2 fault), 3: credit counter (u16, wraps). */
  statusBlock: { fc: 3, address: 2, quantity: 2, label: 'meter status' } satisfies ReadBlock,
  counterAddress: 3,
  /** Writing a program number here starts it when the machine is idle (exception 06 when not). */
  creditAddress: 10,
  modelCode: 0x434d,
} as const;

export const METER_CAPABILITIES: MachineCapabilities = CREDIT_ONLY_CAPABILITIES;

/** The device facts a meter's state carries for its proof (meter-receipt.ts). */
export interface MeterFacts {
  creditCounter: number;
}

export function checkMeterModel(reg: number): void {
  if (reg !== METER.modelCode) throw new ProfileError(`model code 0x${reg.toString(16)} is not a CM-1 credit meter (0x${METER.modelCode.toString(16)})`);
}

/** The one program a meter runs, from its config. */
export function meterPrograms(cfg: MeterUnitConfig): ProgramInfo[] {
  return [{ program: 1, name: 'Cycle', durationMin: cfg.cycleMinutes, temperatureC: null, maxSpinRpm: null, listPriceCents: null }];
}

/** Credits started between two counter readings, across the u16 wrap. */
export function creditsBetween(before: number, now: number): number {
  return (now - before + 65536) % 65536;
}

export function decodeMeter(machineId: string, kind: MachineKind, regs: readonly number[], observedAt: number): MachineState & { confirm: MeterFacts } {
  const [status, counter] = regs;
  if (status === undefined || counter === undefined) throw new ProfileError('meter poll needs the status and counter registers');
  const map: Record<number, MachineState['status']> = { 0: 'idle', 1: 'running', 2: 'fault' };
  const s = map[status];
  if (s === undefined) throw new ProfileError(`meter status ${status} is not 0-2`);
  return { ...blankState(machineId, kind, observedAt), status: s, confirm: { creditCounter: counter } };
}
