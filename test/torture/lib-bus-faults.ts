// Wire faults for the bus-faults scenario, through the simulator's own fault hooks (SimControl):
// a reply with a bad CRC, noise bytes before a reply, a reply lost (the request was executed), a
// reply that comes after the gateway's timeout (before or after its drain window). Counted by type.
import type { SimRoom } from '../../simulator/index.js';

export type WireFault = 'corrupt-crc' | 'garbage' | 'dropped' | 'late';
export const WIRE_FAULTS: readonly WireFault[] = ['corrupt-crc', 'garbage', 'dropped', 'late'];

export function injectWireFault(room: SimRoom, unit: number, fault: WireFault, rnd: () => number, replyTimeoutMs: number): void {
  const c = room.control;
  switch (fault) {
    case 'corrupt-crc':
      c.corruptReplies(unit, 1);
      return;
    case 'garbage':
      c.garbage(unit, Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => Math.floor(rnd() * 256))));
      return;
    case 'dropped':
      c.dropReplies(unit, 1);
      return;
    case 'late':
      // Past the timeout: sometimes inside the drain after it, sometimes well after (the next exchange's time).
      c.delayReplies(unit, replyTimeoutMs + 10 + Math.floor(rnd() * 300), 1);
      return;
  }
}
