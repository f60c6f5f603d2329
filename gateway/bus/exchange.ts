// One request/reply exchange as a state machine without I/O: the bus loop feeds it the bytes
// that arrive, it says "keep waiting", "here is the answer" or "this is not an answer". The
// strict checks live here so they are tested without a port.
import { decodeReplyPdu, PduError, type ModbusReply, type ModbusRequest } from '../../protocols/modbus/pdu.js';
import { encodeRtuRequest, scanRtuReply } from '../../protocols/modbus/rtu.js';
import { encodeMbapRequest, scanMbap } from '../../protocols/modbus/tcp.js';

export type Framing = 'rtu' | 'mbap';

export type FeedResult =
  | { status: 'pending' }
  /** `trailing`: bytes came after the frame; the line is noisy and must be drained. */
  | { status: 'reply'; reply: ModbusReply; trailing: boolean }
  | { status: 'bad'; detail: string };

/** An RTU frame never exceeds 256 bytes; more than this while pending is noise, not a reply. */
const MAX_PENDING = 512;
/** Nothing received yet: one shared empty buffer (feed replaces rx, never writes into it). */
const NOTHING: Buffer = Buffer.alloc(0);

export class Exchange {
  readonly adu: Buffer;
  /** MBAP replies that belonged to earlier (timed-out) transactions, dropped. */
  staleFrames = 0;
  private rx: Buffer = NOTHING;

  constructor(
    readonly framing: Framing,
    readonly unit: number,
    readonly request: ModbusRequest,
    readonly transactionId: number,
  ) {
    this.adu = framing === 'rtu' ? encodeRtuRequest(unit, request) : encodeMbapRequest(transactionId, unit, request);
  }

  feed(chunk: Buffer): FeedResult {
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
    if (this.rx.length > MAX_PENDING) return { status: 'bad', detail: `${this.rx.length} bytes without a valid reply` };
    return this.framing === 'rtu' ? this.scanRtu() : this.scanMbap();
  }

  private decode(pdu: Buffer, trailing: boolean): FeedResult {
    try {
      return { status: 'reply', reply: decodeReplyPdu(this.request, pdu), trailing };
    } catch (e) {
      if (e instanceof PduError) return { status: 'bad', detail: e.message };
      throw e;
    }
  }

  private scanRtu(): FeedResult {
    const scan = scanRtuReply(this.unit, this.request, this.rx);
    switch (scan.status) {
      case 'incomplete':
        return { status: 'pending' };
      case 'bad':
        return { status: 'bad', detail: `${scan.reason}: ${scan.detail}` };
      case 'frame':
        return this.decode(scan.pdu, this.rx.length > scan.frame.length);
    }
  }

  private scanMbap(): FeedResult {
    // TCP is a byte stream: frames of transactions we gave up on may come first; skip them.
    for (;;) {
      const scan = scanMbap(this.rx);
      if (scan.status === 'incomplete') return { status: 'pending' };
      if (scan.status === 'bad') return { status: 'bad', detail: scan.detail };
      this.rx = this.rx.subarray(scan.size);
      if (scan.transactionId !== this.transactionId) {
        this.staleFrames += 1;
        continue;
      }
      if (scan.unit !== this.unit) return { status: 'bad', detail: `reply from unit ${scan.unit}, expected ${this.unit}` };
      return this.decode(scan.pdu, this.rx.length > 0);
    }
  }
}
