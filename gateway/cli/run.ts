// `laundry-gateway run`: the daemon as systemd starts it. The daemon is built with its service
// features (control socket first, so a second instance fails before it touches the bus; READY=1
// and the watchdog last). On SIGTERM the daemon stops its features in reverse: STOPPING=1, the
// readers close, the vends and bus requests under way finish, the ledger closes. Logs are
// written synchronously, so nothing is left to flush when the process exits.
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, type Logger } from '../core/log.js';
import { ControlSocketInUseError } from '../control/server.js';
import { startWarnings } from './exposure-checks.js';
import { loadRunConfig, type RunConfig } from './config.js';

export interface RunIo {
  err(s: string): void;
}

/** What `run` needs of the daemon it runs. */
export interface RunnableDaemon {
  start(): Promise<void>;
  stop(): Promise<void>;
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
  // Loaded here, not at the top: the CLI's other commands start without the daemon's code.
  const { Daemon } = await import('../daemon.js');
  const daemon: RunnableDaemon = new Daemon(config, { logger, clock, service: true, configPath: configFile });
  for (const w of startWarnings(configFile, config)) logger.warn({ warning: w }, 'exposure warning');
  const signal = waitForSignal(logger);
  try {
    await daemon.start();
  } catch (e) {
    const err = e instanceof Error ? e.message : String(e);
    if (e instanceof ControlSocketInUseError) logger.fatal({ err }, 'another gateway is running: not starting');
    else logger.fatal({ err }, 'start-up failed');
    await daemon.stop().catch(() => undefined);
    return 1;
  }

  const sig = await signal;
  logger.info({ signal: sig }, 'stopping: finishing vends and bus requests in flight');
  let code = 0;
  try {
    await daemon.stop();
  } catch (e) {
    logger.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
    code = 1;
  }
  logger.info({ code }, 'exiting');
  logger.flush();
  return code;
}
