// Builds one bus (transport + master) from its config section, so the composition root and the
// CLI do not each know how the transports are wired. The config is outside input: zod at the edge.
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { BusMaster } from './bus-master.js';
import { BusMasterOptionsSchema } from './options.js';
import { SerialTransport, SerialTransportOptionsSchema } from './serial-transport.js';
import { TcpTransport, TcpTransportOptionsSchema } from './tcp-transport.js';

const masterFields = BusMasterOptionsSchema.omit({ framing: true, line: true });

export const BusConfigSchema = z.discriminatedUnion('transport', [
  z.object({ transport: z.literal('serial'), serial: SerialTransportOptionsSchema, master: masterFields }),
  z.object({ transport: z.literal('tcp'), framing: z.enum(['rtu', 'mbap']), tcp: TcpTransportOptionsSchema, master: masterFields }),
]);
export type BusConfig = z.input<typeof BusConfigSchema>;

export function createBus(config: BusConfig, deps: { logger: Logger; clock?: Clock }): BusMaster {
  const c = BusConfigSchema.parse(config);
  if (c.transport === 'serial') {
    const s = c.serial;
    const transport = new SerialTransport(s, deps);
    // the master's t3.5 comes from the same line format the port is opened with
    const line = { baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits };
    return new BusMaster(transport, { ...c.master, framing: 'rtu', line }, deps);
  }
  return new BusMaster(new TcpTransport(c.tcp, deps), { ...c.master, framing: c.framing }, deps);
}
