// One configured bus, built: its transport, the bus master that owns it, and the poller that
// keeps every machine on it known. Also checks, before the first poll, whether the line can carry
// the poll plan in the requested interval, and says so with numbers.
import type { BusMaster } from '../bus/bus-master.js';
import { createBus, type BusSpec } from '../bus/create.js';
import { planPoll, type PollPlan } from '../bus/poll-plan.js';
import type { BusConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { systemTimers, type Timers } from '../core/timers.js';
import type { LineFormat } from '../../protocols/modbus/timing.js';
import { Poller } from './poller.js';

export interface RoomBusOptions {
  /** How long start() waits for the port before polling anyway (default 2000). */
  portWaitMs?: number;
  /** A unit that did not answer discovery is asked again this often (default 2000). */
  discoveryRetryMs?: number;
  /** The poll plan's device turnaround; LW-485: "within 20 ms, typically 5 ms" (default 5). */
  turnaroundMs?: number;
}

const DEFAULT_OPTIONS: Required<RoomBusOptions> = { portWaitMs: 2000, discoveryRetryMs: 2000, turnaroundMs: 5 };

export interface RoomBus {
  readonly config: BusConfig;
  readonly master: BusMaster;
  readonly poller: Poller;
  readonly plan: PollPlan;
  start(): void;
  stop(): Promise<void>;
}

export function lineFormatOf(cfg: BusConfig): LineFormat | undefined {
  const t = cfg.transport;
  return t.type === 'serial' ? { baudRate: t.baudRate, dataBits: t.dataBits, parity: t.parity, stopBits: t.stopBits } : undefined;
}

/** The config block as the parts createBus wires. */
function busSpec(cfg: BusConfig): BusSpec {
  const t = cfg.transport;
  const master = { busId: cfg.id, replyTimeoutMs: cfg.replyTimeoutMs };
  if (t.type === 'tcp') return { transport: 'tcp', framing: t.framing, tcp: { host: t.host, port: t.port }, master };
  const { type: _type, path, ...line } = t;
  return { transport: 'serial', serial: { path, ...line }, master };
}

export function buildRoomBus(cfg: BusConfig, deps: { logger: Logger; clock: Clock; timers?: Timers }, options: RoomBusOptions = {}): RoomBus {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const timers = deps.timers ?? systemTimers;
  const log = deps.logger.child({ bus: cfg.id });
  const master = createBus(busSpec(cfg), { logger: deps.logger, clock: deps.clock });
  const line = lineFormatOf(cfg);
  const poller = new Poller({ bus: master, units: cfg.units, intervalMs: cfg.pollIntervalMs, logger: log, clock: deps.clock, discoveryRetryMs: o.discoveryRetryMs });
  const plan = planPoll({
    blocks: poller.planBlocks(),
    ...(line ? { line } : {}),
    intervalMs: cfg.pollIntervalMs,
    turnaroundMs: o.turnaroundMs,
  });
  let cancelWait = (): void => undefined;
  return {
    config: cfg,
    master,
    poller,
    plan,
    start() {
      const summary = { units: plan.units, blocks: plan.blocks.length, wireSeconds: plan.wireSeconds, cycleSeconds: plan.cycleSeconds, intervalSeconds: plan.intervalSeconds };
      if (plan.fits === false) log.warn(summary, `poll interval cannot be met: ${plan.verdict}`);
      else log.info(summary, `poll plan: ${plan.verdict}`);
      master.start();
      // Discovery asks every unit once; asked before the port is open, each would fail and wait
      // out a retry. Give the port a moment first (a missing adapter still starts the poller).
      if (master.stats().portUp) poller.start();
      else {
        const timer = timers.setTimeout(() => go(), o.portWaitMs);
        const go = (): void => {
          cancelWait();
          poller.start();
        };
        cancelWait = () => {
          timers.clearTimeout(timer);
          master.off('port-up', go);
          cancelWait = () => undefined;
        };
        master.on('port-up', go);
      }
    },
    async stop() {
      cancelWait();
      await poller.stop();
      await master.stop();
    },
  };
}
