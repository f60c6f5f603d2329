// A BusClient over the simulator's in-process API: each request is encoded to a real PDU, served
// by SimRoom (which applies its wire faults: dropped, corrupted replies, offline units) and the
// reply decoded and checked against the request with the real codec. No wire: the profile logic
// is what is under test here; the bus master has its own tests on real ptys.
import { setImmediate as tick } from 'node:timers/promises';
import type { BusClient, BusRequestOptions, BusResult } from '../../gateway/bus/types.js';
import { EXCEPTION_NAMES, decodeReplyPdu, encodeRequestPdu, PduError, type ModbusRequest } from '../../protocols/modbus/pdu.js';
import type { SimRoom } from '../../simulator/index.js';

export interface SentRequest {
  unit: number;
  req: ModbusRequest;
  priority: string;
  result: string;
}

export class SimBus implements BusClient {
  readonly busId = 'sim';
  readonly sent: SentRequest[] = [];
  /** Units whose breaker the test holds open: requests are not sent. */
  readonly breakerOpen = new Set<number>();
  /** Per-test behaviour: runs just before the simulator serves each request (e.g. to drop one reply). */
  beforeServe: ((unit: number, req: ModbusRequest) => void) | null = null;
  /** Runs just after the simulator served a request, before the reply is decoded. */
  afterServe: ((unit: number, req: ModbusRequest) => void) | null = null;

  constructor(private readonly room: SimRoom) {}

  async request(unit: number, req: ModbusRequest, opts?: BusRequestOptions): Promise<BusResult> {
    await tick();
    const priority = opts?.priority ?? 'poll';
    if (this.breakerOpen.has(unit)) return { ok: false, kind: 'breaker-open', detail: `unit ${unit} breaker open`, sent: false };
    const record = (result: string): void => {
      this.sent.push({ unit, req, priority, result });
    };
    this.beforeServe?.(unit, req);
    const plan = this.room.serve(unit, encodeRequestPdu(req));
    this.afterServe?.(unit, req);
    if (plan === null) {
      record('timeout');
      return { ok: false, kind: 'timeout', detail: `no reply from unit ${unit}`, sent: true };
    }
    if (plan.corrupt) {
      record('bad-frame');
      return { ok: false, kind: 'bad-frame', detail: 'CRC mismatch', sent: true };
    }
    try {
      const reply = decodeReplyPdu(req, plan.pdu);
      if (reply.kind === 'exception') {
        record(`exception ${reply.code}`);
        return { ok: false, kind: 'exception', code: reply.code, detail: EXCEPTION_NAMES[reply.code] ?? `exception ${reply.code}`, latencyMs: 1 };
      }
      record('ok');
      return { ok: true, reply, latencyMs: 1 };
    } catch (e) {
      if (!(e instanceof PduError)) throw e;
      record('bad-frame');
      return { ok: false, kind: 'bad-frame', detail: e.message, sent: true };
    }
  }

  /** Requests of one function code that went to a unit. */
  count(unit: number, fc: number): number {
    return this.sent.filter((s) => s.unit === unit && s.req.fc === fc).length;
  }
}
