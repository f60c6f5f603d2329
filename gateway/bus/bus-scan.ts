// "Who is on this bus?" for the CLI's `bus scan`: one cheap read per unit id with a short
// timeout. A Modbus exception is an answer too: something with that address is there.
import type { ModbusRequest } from '../../protocols/modbus/pdu.js';
import type { BusClient } from './types.js';

export interface BusScanOptions {
  from?: number;
  to?: number;
  timeoutMs?: number;
  /** LW-485: input register 0 is the model code. */
  probe?: ModbusRequest;
  /** Called after each unit, for a progress line. */
  onProgress?: (unit: number, answered: boolean) => void;
}

export interface ScanHit {
  unit: number;
  answer: 'reply' | 'exception';
  /** The registers read, when the probe was a register read that succeeded. */
  registers?: number[];
  latencyMs: number;
}

export async function scanBus(bus: BusClient, opts: BusScanOptions = {}): Promise<ScanHit[]> {
  const from = opts.from ?? 1;
  const to = opts.to ?? 247;
  const probe: ModbusRequest = opts.probe ?? { fc: 4, address: 0, quantity: 1 };
  const hits: ScanHit[] = [];
  for (let unit = from; unit <= to; unit++) {
    const r = await bus.request(unit, probe, { priority: 'probe', timeoutMs: opts.timeoutMs ?? 50 });
    let answered = true;
    if (r.ok) {
      hits.push({ unit, answer: 'reply', latencyMs: r.latencyMs, ...(r.reply.kind === 'registers' ? { registers: r.reply.registers } : {}) });
    } else if (r.kind === 'exception') {
      hits.push({ unit, answer: 'exception', latencyMs: r.latencyMs });
    } else if (r.kind === 'port-down' || r.kind === 'closed') {
      // every later unit would "not answer" too: an empty scan must not pass for an empty bus
      throw new Error(`bus scan stopped at unit ${unit}: ${r.detail}`);
    } else {
      answered = false;
    }
    opts.onProgress?.(unit, answered);
  }
  return hits;
}
