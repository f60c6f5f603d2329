// A CM-1 credit meter on the wire, for the third device profile's end-to-end test. No such device
// exists to run here (it is the profile that shows a device model touches gateway/profiles/ only),
// so this small Modbus slave stands in for it, with two faults a real meter would not produce on
// demand: a credit it acknowledges but does not start, and a credit whose reply is lost.
import { decodeRequestPdu, encodeReplyPdu, type ModbusReply } from '../../protocols/modbus/pdu.js';
import type { ReplyPlan, SlaveTarget } from '../../simulator/rtu-slave.js';

export class MeterDevice implements SlaveTarget {
  status: 0 | 1 | 2 = 0;
  counter: number;
  /** Acknowledge the next credit write without starting it (a jammed coin path). */
  jamNext = false;
  /** Start the next credit but send no reply. */
  dropNextReply = false;
  /** Program numbers written to the credit register, in order. */
  readonly credits: number[] = [];

  constructor(
    readonly unit: number,
    counter = 65534,
  ) {
    this.counter = counter;
  }

  serve(unit: number, pdu: Buffer): ReplyPlan | null {
    if (unit !== this.unit) return null;
    const d = decodeRequestPdu(pdu);
    const reply = (r: ModbusReply): ReplyPlan => ({ pdu: encodeReplyPdu(r), delayMs: 1, corrupt: false, garbage: null });
    if (!d.ok) return reply({ kind: 'exception', fc: d.fc, code: d.exception });
    const q = d.request;
    const regs = [0x434d, 0x0102, this.status, this.counter];
    if (q.fc === 3) {
      if (q.address + q.quantity > regs.length) return reply({ kind: 'exception', fc: 3, code: 2 });
      return reply({ kind: 'registers', fc: 3, registers: regs.slice(q.address, q.address + q.quantity) });
    }
    if (q.fc === 6 && q.address === 10) {
      if (this.status !== 0) return reply({ kind: 'exception', fc: 6, code: 6 });
      this.credits.push(q.value);
      if (this.jamNext) {
        this.jamNext = false;
      } else {
        this.counter = (this.counter + 1) % 65536;
        this.status = 1;
      }
      if (this.dropNextReply) {
        this.dropNextReply = false;
        return null;
      }
      return reply({ kind: 'register-written', fc: 6, address: q.address, value: q.value });
    }
    return reply({ kind: 'exception', fc: q.fc, code: 1 });
  }
}
