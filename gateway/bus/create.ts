// Builds one bus (transport + master) from a spec of its parts, so the composition root and the
// CLI do not each know how the transports are wired. The room's config block (`BusConfig`, in
// gateway/config/schema.ts) becomes a spec in gateway/machines/room-bus.ts.
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { BusMaster } from './bus-master.js';
import { BusMasterOptionsSchema } from './options.js';
import { SerialTransport, SerialTransportOptionsSchema } from './serial-transport.js';
import { TcpTransport, TcpTransportOptionsSchema } from './tcp-transport.js';

const masterFields = BusMasterOptionsSchema.omit({ framing: true, line: true });

export const BusSpecSchema = z.discriminatedUnion('transport', [
  z.object({ transport: z.literal('serial'), serial: SerialTransportOptionsSchema, master: masterFields }),
  z.object({ transport: z.literal('tcp'), framing: z.enum(['rtu', 'mbap']), tcp: TcpTransportOptionsSchema, master: masterFields }),
]);
export type BusSpec = z.input<typeof BusSpecSchema>;

export function createBus(spec: BusSpec, deps: { logger: Logger; clock?: Clock }): BusMaster {
  const c = BusSpecSchema.parse(spec);
  if (c.transport === 'serial') {
    const s = c.serial;
    const transport = new SerialTransport(s, deps);
    // the master's t3.5 comes from the same line format the port is opened with
    return new BusMaster(transport, { ...c.master, framing: 'rtu', line: transport.line }, deps);
  }
  return new BusMaster(new TcpTransport(c.tcp, deps), { ...c.master, framing: c.framing }, deps);
}
