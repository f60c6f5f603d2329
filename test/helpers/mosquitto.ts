// A real Mosquitto (Debian package) on a free loopback port with a temp config: anonymous,
// no persistence. stop()/start() keep the port, so clients reconnect to the same URL; a
// restart loses sessions and retained messages, as a broker without persistence does.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface Broker {
  readonly port: number;
  readonly url: string;
  /** Starts it (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILL: no clean disconnects, like a crashed broker or a cut cable. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
  readonly running: boolean;
  /** The broker process id while it runs (for memory figures), else null. */
  readonly pid: number | null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startMosquitto(opts: { port?: number; extraConfig?: string } = {}): Promise<Broker> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest none',
    'max_queued_messages 100000',
    // Small packets (acks) otherwise wait on Nagle + delayed ACK: ~40 ms per batch round trip.
    'set_tcp_nodelay true',
    opts.extraConfig ?? '',
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  let proc: ChildProcess | null = null;

  const exited = (p: ChildProcess): Promise<void> => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r())));

  const broker: Broker = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get running() {
      return proc !== null;
    },
    get pid() {
      return proc?.pid ?? null;
    },
    async start() {
      if (proc) return;
      const p = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', () => undefined);
      proc = p;
      const until = Date.now() + 10_000;
      while (!(await canConnect(port))) {
        if (p.exitCode !== null) throw new Error(`mosquitto exited: ${err.trim()}`);
        if (Date.now() > until) throw new Error(`mosquitto did not listen on ${port}: ${err.trim()}`);
        await sleep(20);
      }
    },
    async kill() {
      const p = proc;
      proc = null;
      if (!p) return;
      p.kill('SIGKILL');
      await exited(p);
    },
    async stop() {
      const p = proc;
      proc = null;
      if (!p) return;
      p.kill('SIGTERM');
      await exited(p);
    },
    async restart() {
      await broker.kill();
      await broker.start();
    },
    async close() {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
