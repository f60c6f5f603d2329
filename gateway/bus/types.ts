// The contract between whoever talks to machines (profiles, the vend engine, the CLI) and the
// bus master that owns the wire. One request in flight per bus; the caller gets one definite
// result, never a hanging promise.
import type { ModbusReply, ModbusRequest } from '../../protocols/modbus/pdu.js';

export type BusPriority = 'command' | 'poll' | 'probe';

export interface BusRequestOptions {
  priority?: BusPriority;
  /** Overrides the bus-wide reply timeout for this request (from the device profile, never ad hoc). */
  timeoutMs?: number;
}

export type BusFailure =
  /** No valid reply in time. The request may or may not have been executed by the device. */
  | 'timeout'
  /** A reply arrived but failed validation (CRC, unit, function, length). Executed or not: unknown. */
  | 'bad-frame'
  /** The unit is behind its circuit breaker; the request was NOT sent. */
  | 'breaker-open'
  /** The port is closed or gone (adapter unplugged); the request was NOT sent. */
  | 'port-down'
  /** The bus is shutting down; the request was NOT sent. */
  | 'closed';

export type BusResult =
  | { ok: true; reply: Exclude<ModbusReply, { kind: 'exception' }>; latencyMs: number }
  | { ok: false; kind: 'exception'; code: number; detail: string; latencyMs: number }
  | { ok: false; kind: BusFailure; detail: string; sent: boolean };

export interface BusClient {
  readonly busId: string;
  request(unit: number, req: ModbusRequest, opts?: BusRequestOptions): Promise<BusResult>;
}

export interface UnitStats {
  unit: number;
  requests: number;
  ok: number;
  timeouts: number;
  badFrames: number;
  exceptions: number;
  latencyMs: { last: number | null; avg: number | null; max: number | null };
  breaker: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  lastOkAt: number | null;
}
