// The features only the systemd service has (`laundry-gateway run`): the control socket for the
// CLI, the health monitor and the systemd notifier. Built by the composition root when asked
// (tests and the demo run without them: no socket in /run, no sd_notify).
import type { Clock } from './core/clock.js';
import { feature, type Feature } from './core/feature.js';
import type { Logger } from './core/log.js';
import { SdNotifier } from './core/sd-notify.js';
import { ControlServer, ControlSocketInUseError } from './control/server.js';
import { controlTargetOf, type ControlParts } from './control/target.js';
import { HealthMonitor, type WatchedBus } from './cli/health.js';
import type { RoomBus } from './machines/room-bus.js';

export interface ServiceOptions {
  /** A bus is unhealthy after this many poll intervals without a finished cycle (default 10)… */
  cycleAgeIntervals?: number;
  /** …and never sooner than this (default 30 s). */
  minCycleAgeMs?: number;
}

const DEFAULT_OPTIONS: Required<ServiceOptions> = { cycleAgeIntervals: 10, minCycleAgeMs: 30_000 };

export interface ServiceParts extends ControlParts {
  readonly buses: readonly RoomBus[];
  readonly machines: { machineIds(): string[] };
}

export interface ServiceFeatures {
  /** First in the list: a second instance fails here, before it touches the bus. */
  readonly head: Feature[];
  /** Last in the list: health, then READY=1 and the watchdog. */
  readonly tail: Feature[];
}

function watchedBuses(buses: readonly RoomBus[]): WatchedBus[] {
  return buses.map((b) => ({
    id: b.config.id,
    onCycle: (listener) => {
      b.poller.on('cycle', listener);
      return () => {
        b.poller.off('cycle', listener);
      };
    },
  }));
}

export function serviceFeatures(parts: ServiceParts, o: { socketPath: string; maxConnections?: number; idleTimeoutMs?: number; logger: Logger; clock: Clock; options?: ServiceOptions }): ServiceFeatures {
  const { logger, clock } = o;
  const opts = { ...DEFAULT_OPTIONS, ...o.options };
  const control = new ControlServer(controlTargetOf(parts), { socketPath: o.socketPath, maxConnections: o.maxConnections, idleTimeoutMs: o.idleTimeoutMs }, { logger, clock });
  const maxInterval = Math.max(...parts.buses.map((b) => b.config.pollIntervalMs));
  const health = new HealthMonitor(watchedBuses(parts.buses), { maxCycleAgeMs: Math.max(opts.minCycleAgeMs, opts.cycleAgeIntervals * maxInterval) }, clock);
  const notifier = new SdNotifier({ logger, healthy: () => health.check() });
  let controlUp = false;
  return {
    head: [
      // Started first, closed last: STATUS while starting, and every message handed over at exit.
      feature(
        'systemd-notifier',
        () => notifier.status('starting: discovering machines, settling unfinished vends'),
        () => notifier.close(),
      ),
      feature(
        'control-socket',
        async () => {
          try {
            await control.start();
            controlUp = true;
          } catch (e) {
            // a second instance would fight the first over the bus port and the ledger
            if (e instanceof ControlSocketInUseError) throw e;
            // Vending matters more than diagnostics: run on, without the socket, and say so.
            logger.error({ err: e instanceof Error ? e.message : String(e), socket: o.socketPath }, 'control socket could not be opened: running without it (the CLI falls back to read-only)');
          }
        },
        () => control.stop(),
      ),
    ],
    tail: [
      feature(
        'health',
        () => health.start(),
        () => health.stop(),
      ),
      feature(
        'systemd-ready',
        async () => {
          await notifier.ready(`running: ${parts.machines.machineIds().length} machines on ${parts.buses.length} bus(es)${controlUp ? '' : '; NO control socket'}`);
          notifier.startWatchdog();
          logger.info({ socket: controlUp ? control.socketPath : null, watchdogMs: notifier.watchdogIntervalMs, notify: notifier.enabled }, 'ready');
        },
        // STOPPING=1 first of all: the watchdog must not fire while vends drain
        () => notifier.stopping('stopping: finishing vends in flight'),
      ),
    ],
  };
}
