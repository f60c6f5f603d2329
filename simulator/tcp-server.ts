// The room on TCP: raw RTU frames (what a serial-to-Ethernet converter passes through) or
// Modbus TCP with the MBAP header. Each connection has its own framing state.
import { createServer, type Server, type Socket } from 'node:net';
import { encodeMbap, scanMbap } from '../protocols/modbus/tcp.js';
import type { Logger } from '../gateway/core/log.js';
import { RtuSlave, type SlaveTarget } from './rtu-slave.js';
import type { LineFormat } from '../protocols/modbus/timing.js';
import { listen } from './listen.js';

export interface TcpListenOptions {
  host?: string;
  port: number;
  framing: 'rtu' | 'mbap';
}

export interface TcpEndpoint {
  port: number;
  close(): Promise<void>;
}

function mbapSession(socket: Socket, target: SlaveTarget, logger: Logger, timers: Set<NodeJS.Timeout>): void {
  let rx = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    rx = Buffer.concat([rx, chunk]);
    for (;;) {
      const scan = scanMbap(rx);
      if (scan.status === 'incomplete') return;
      if (scan.status === 'bad') {
        // A TCP stream out of step cannot be resynchronised: drop the connection, as servers do.
        logger.warn({ detail: scan.detail }, 'bad MBAP header, closing the connection');
        socket.destroy();
        return;
      }
      rx = rx.subarray(scan.size);
      const plan = scan.unit === 0 ? null : target.serve(scan.unit, scan.pdu);
      if (!plan) continue;
      // No CRC on TCP: a "corrupt" reply is one byte short, which a master must refuse.
      const pdu = plan.corrupt ? plan.pdu.subarray(0, Math.max(1, plan.pdu.length - 1)) : plan.pdu;
      const frame = encodeMbap(scan.transactionId, scan.unit, pdu);
      const send = (): void => {
        if (!socket.destroyed) socket.write(frame);
      };
      if (plan.delayMs <= 0) send();
      else {
        const t = setTimeout(() => {
          timers.delete(t);
          send();
        }, plan.delayMs);
        timers.add(t);
      }
    }
  });
}

export async function listenTcp(target: SlaveTarget, o: TcpListenOptions, logger: Logger, pace?: LineFormat): Promise<TcpEndpoint> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const log = logger.child({ peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, framing: o.framing });
    let slave: RtuSlave | null = null;
    if (o.framing === 'rtu') {
      slave = new RtuSlave(target, (b) => socket.write(b), { logger: log, ...(pace ? { pace } : {}) });
      socket.on('data', (chunk: Buffer) => slave?.onData(chunk));
    } else {
      mbapSession(socket, target, log, timers);
    }
    socket.on('error', (err) => log.debug({ err }, 'connection error'));
    socket.on('close', () => {
      slave?.close();
      sockets.delete(socket);
    });
  });
  const port = await listen(server, o.port, o.host);
  logger.info({ port, framing: o.framing }, 'simulator listening on TCP');
  return {
    port,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
