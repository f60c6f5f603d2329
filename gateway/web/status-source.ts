// Everything the web feature reads and does, as one small interface: the server never sees the
// daemon, so a test can build a source from parts, and the daemon wires one line
// (statusSourceFromDaemon).
import type { AlertInput, AuditRecord, OutboxStats, VendRecord } from '../../storage/index.js';
import type { BusStats } from '../bus/stats.js';
import type { TickEvent } from '../machines/poller-types.js';
import type { MachineKind, MachineState, ProgramInfo } from '../machines/state.js';
import type { ClockFloorStatus } from '../tokens/clock-floor.js';

export interface MachineInfo {
  name: string | null;
  kind: MachineKind | null;
  busId: string | null;
  unit: number | null;
}

export interface UplinkStatus {
  state: 'online' | 'offline' | 'unknown';
  lastAckAt: number | null;
}

/** How an operator action ended, in HTTP terms: the server turns it into the response. */
export type ActionOutcome =
  | { ok: true; detail: Record<string, string | number | boolean | null> }
  | { ok: false; status: 404 | 409 | 422 | 501 | 502; error: string; reason: string };

export interface StatusSource {
  room(): { id: string; name: string | null };
  machineIds(): string[];
  machine(machineId: string): MachineState | null;
  machineInfo(machineId: string): MachineInfo;
  programs(machineId: string): ProgramInfo[];
  /** Machines waiting for an earlier vend to be settled (every machine while the ledger cannot write). */
  blockedMachines(): string[];
  /** Whether the ledger writes; while it does not, the room declines vends (ledger_unavailable). */
  ledgerHealth?(): { writable: boolean; lastError: string | null; sinceMs: number | null; failures: number };
  buses(): BusStats[];
  clock(): ClockFloorStatus;
  outbox(): OutboxStats;
  uplink(): UplinkStatus;
  recentVends(n: number): VendRecord[];
  getVend(vendId: string): VendRecord | undefined;
  auditHeadSeq(): number;
  readAudit(fromSeq: number, limit: number): AuditRecord[];
  appendAlert(alert: AlertInput): void;
  enqueueEvent(type: string, payload: unknown): void;
  /** An operator's local block; the ledger audits it. Throws on a malformed UID. */
  blockCard(uid: string): void;
  /** Refund of a captured vend (a compensating entry; the captured vend itself never changes). */
  refundCaptured(vendId: string, reason: string): ActionOutcome;
  /** The machine's service mode on or off (LW-485 commands 8 and 9). */
  setServiceMode(machineId: string, on: boolean): Promise<ActionOutcome>;
  /** Clears the machine's fault (LW-485 command 7). */
  clearFault(machineId: string): Promise<ActionOutcome>;
  /** Each returns its unsubscribe function. */
  onMachineState(listener: (state: MachineState) => void): () => void;
  onTick(listener: (tick: TickEvent) => void): () => void;
}
