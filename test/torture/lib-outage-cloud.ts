// The cloud side of the outage scenario: the reference consumer (simulator/cloud/main.ts) as a
// process of its own that is killed and started again, and the chaos that stops and starts the
// real Mosquitto and the consumer at random intervals, each on its own schedule.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Broker } from '../helpers/mosquitto.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLOUD_MAIN = join(ROOT, 'simulator', 'cloud', 'main.ts');

/** The consumer process: start() resolves once it runs (not necessarily connected: the broker may be down). */
export class ConsumerProcess {
  private proc: ChildProcess | null = null;
  /** Exits nobody asked for (e.g. the first connect refused while the broker was down). */
  unexpectedExits = 0;
  private wanted = false;

  constructor(
    private readonly url: string,
    readonly dbPath: string,
  ) {}

  get running(): boolean {
    return this.proc !== null;
  }

  start(): void {
    this.wanted = true;
    if (this.proc) return;
    const p = spawn(process.execPath, ['--import', 'tsx', CLOUD_MAIN, '--url', this.url, '--db', this.dbPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    // TORTURE_CONSUMER_LOG=<file>: every consumer's log, for a failure to be read afterwards.
    const logFile = process.env.TORTURE_CONSUMER_LOG;
    const keep = (d: Buffer): void => {
      if (logFile) appendFileSync(logFile, d);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    p.on('error', () => undefined);
    p.once('exit', () => {
      if (this.proc !== p) return;
      this.proc = null;
      if (!this.wanted) return;
      // Died on its own (a refused first connect ends the CLI): a supervisor would restart it.
      this.unexpectedExits++;
      setTimeout(() => {
        if (this.wanted && this.proc === null) this.start();
      }, 300).unref();
    });
  }

  /** SIGKILL (a crash) or SIGTERM (a deploy); waits for the exit. */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    this.wanted = false;
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
}

export interface ChaosFigures {
  brokerRestarts: number;
  consumerRestarts: number;
  longestBrokerOutageMs: number;
  longestConsumerOutageMs: number;
  brokerDownMs: number;
}

export interface ChaosTiming {
  /** Broker up for a random time in [min, max] ms, then down for one in [min, max]. */
  brokerUpMs: [number, number];
  brokerDownMs: [number, number];
  consumerUpMs: [number, number];
  consumerDownMs: [number, number];
}

/**
 * Runs both schedules until stop(); stop() brings both back up and resolves once they are,
 * with the moment the last outage ended.
 */
export function startChaos(
  broker: Broker,
  consumer: ConsumerProcess,
  timing: ChaosTiming,
  rnd: () => number,
  log: (s: string) => void,
  /** Called each time the broker is back; `down()` says whether it went down again since. */
  onBrokerBack?: (down: () => boolean) => void,
): { stop(): Promise<number>; figures: ChaosFigures } {
  const figures: ChaosFigures = { brokerRestarts: 0, consumerRestarts: 0, longestBrokerOutageMs: 0, longestConsumerOutageMs: 0, brokerDownMs: 0 };
  let running = true;
  const pick = ([lo, hi]: [number, number]): number => lo + Math.floor(rnd() * (hi - lo));
  // Sleeps that stop() cuts short.
  const wakers = new Set<() => void>();
  const nap = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      wakers.add(done);
    });

  const brokerLoop = (async () => {
    while (running) {
      await nap(pick(timing.brokerUpMs));
      if (!running) break;
      const hard = rnd() < 0.5;
      if (hard) await broker.kill();
      else await broker.stop();
      const down = Date.now();
      await nap(pick(timing.brokerDownMs));
      await broker.start();
      const restarts = figures.brokerRestarts + 1;
      onBrokerBack?.(() => figures.brokerRestarts > restarts || !broker.running);
      const ms = Date.now() - down;
      figures.brokerRestarts++;
      figures.brokerDownMs += ms;
      figures.longestBrokerOutageMs = Math.max(figures.longestBrokerOutageMs, ms);
      log(`broker ${hard ? 'killed' : 'stopped'}, back after ${ms} ms`);
    }
  })();
  const consumerLoop = (async () => {
    while (running) {
      await nap(pick(timing.consumerUpMs));
      if (!running) break;
      const hard = rnd() < 0.5;
      await consumer.stop(hard ? 'SIGKILL' : 'SIGTERM');
      const down = Date.now();
      await nap(pick(timing.consumerDownMs));
      consumer.start();
      const ms = Date.now() - down;
      figures.consumerRestarts++;
      figures.longestConsumerOutageMs = Math.max(figures.longestConsumerOutageMs, ms);
      log(`consumer ${hard ? 'killed' : 'stopped'}, restarted after ${ms} ms`);
    }
  })();
  return {
    figures,
    stop: async () => {
      running = false;
      for (const w of [...wakers]) w();
      await Promise.all([brokerLoop, consumerLoop]);
      if (!broker.running) await broker.start();
      if (!consumer.running) consumer.start();
      return Date.now();
    },
  };
}

/** Polls an async condition every 100 ms until it holds (true) or `ms` pass (false). */
export async function waitUntil(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) return false;
    await sleep(100);
  }
  return true;
}
