// `laundry-gateway run`: the daemon as systemd starts it. Start order: control socket (a second
// instance fails here, before it touches the bus), daemon, then READY=1 and the watchdog. On
// SIGTERM: STOPPING=1, the control socket closes, and Daemon.stop() lets the vends and bus
// requests under way finish before the ledger closes. Logs are written synchronously, so
// nothing is left to flush when the process exits.
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, type Logger } from '../core/log.js';
import { SdNotifier } from '../core/sd-notify.js';
import { ControlServer, ControlSocketInUseError } from '../control/server.js';
import { controlTargetOf } from '../control/target.js';
import type { Daemon } from '../daemon.js';
import { startWarnings } from './exposure-checks.js';
import { loadRunConfig, type RunConfig } from './config.js';
import { HealthMonitor, type WatchedBus } from './health.js';

export interface RunIo {
  err(s: string): void;
}

/** A bus is unhealthy after this many poll intervals without a finished cycle (at least 30 s). */
const CYCLE_AGE_INTERVALS = 10;
const MIN_CYCLE_AGE_MS = 30_000;

function watchedBuses(daemon: Daemon): WatchedBus[] {
  return daemon.buses.map((b) => ({
    id: b.config.id,
    onCycle: (listener) => {
      b.poller.on('cycle', listener);
      return () => {
        b.poller.off('cycle', listener);
      };
    },
  }));
}

function waitForSignal(logger: Logger): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      // a second Ctrl-C while draining is noted, not obeyed: systemd's stop timeout is the limit
      const again = (s: string): void => logger.warn({ signal: s }, 'already stopping: waiting for vends in flight');
      process.on('SIGTERM', () => again('SIGTERM'));
      process.on('SIGINT', () => again('SIGINT'));
      resolve(signal);
    };
    const onTerm = (): void => on('SIGTERM');
    const onInt = (): void => on('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

export async function runDaemon(configFile: string, io: RunIo, deps: { clock?: Clock } = {}): Promise<number> {
  const loaded = loadRunConfig(configFile);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.err(e);
    io.err(`config ${configFile} is not valid: nothing was started`);
    return 2;
  }
  const config: RunConfig = loaded.config;
  const clock = deps.clock ?? systemClock;
  const logger = createLogger({ level: config.log.level });
  const { Daemon } = await import('../daemon.js');
  const daemon = new Daemon(config, { logger, clock, configPath: configFile });
  for (const w of startWarnings(configFile, config)) logger.warn({ warning: w }, 'exposure warning');
  const control = new ControlServer(controlTargetOf(daemon), { socketPath: config.control.socketPath, maxConnections: config.control.maxConnections, idleTimeoutMs: config.control.idleTimeoutMs }, { logger, clock });
  const maxInterval = Math.max(...config.buses.map((b) => b.pollIntervalMs));
  const health = new HealthMonitor(watchedBuses(daemon), { maxCycleAgeMs: Math.max(MIN_CYCLE_AGE_MS, CYCLE_AGE_INTERVALS * maxInterval) }, clock);
  const notifier = new SdNotifier({ logger, healthy: () => health.check() });
  const signal = waitForSignal(logger);

  let controlUp = false;
  try {
    await control.start();
    controlUp = true;
  } catch (e) {
    const err = e instanceof Error ? e.message : String(e);
    if (e instanceof ControlSocketInUseError) {
      // a second instance would fight the first over the bus port and the ledger
      logger.fatal({ err }, 'another gateway is running: not starting');
      daemon.ledger.close();
      return 1;
    }
    // Vending matters more than diagnostics: run on, without the socket, and say so.
    logger.error({ err, socket: config.control.socketPath }, 'control socket could not be opened: running without it (the CLI falls back to read-only)');
  }
  try {
    await notifier.status('starting: discovering machines, settling unfinished vends');
    await daemon.start();
  } catch (e) {
    logger.fatal({ err: e instanceof Error ? e.message : String(e) }, 'start-up failed');
    await control.stop();
    await daemon.stop().catch(() => undefined);
    await notifier.close();
    return 1;
  }
  health.start();
  await notifier.ready(`running: ${daemon.machines.machineIds().length} machines on ${daemon.buses.length} bus(es)${controlUp ? '' : '; NO control socket'}`);
  notifier.startWatchdog();
  logger.info({ socket: controlUp ? control.socketPath : null, watchdogMs: notifier.watchdogIntervalMs, notify: notifier.enabled }, 'ready');

  const sig = await signal;
  logger.info({ signal: sig }, 'stopping: finishing vends and bus requests in flight');
  const stopping = notifier.stopping('stopping: finishing vends in flight');
  let code = 0;
  try {
    await control.stop();
    await daemon.stop();
  } catch (e) {
    logger.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
    code = 1;
  }
  health.stop();
  await stopping;
  await notifier.close();
  logger.info({ code }, 'exiting');
  logger.flush();
  return code;
}
