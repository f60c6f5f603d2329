// CLI: node --import tsx simulator/main.ts --config room.json
// Runs the simulated room (TCP listeners, serial ports, control API) until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { createLogger } from '../gateway/core/log.js';
import { loadConfigFile } from '../gateway/config/load.js';
import { demoRoomUnits, simConfigSchema } from './config.js';
import { SimRoom } from './room.js';
import { startControlServer, type ControlServer } from './control-server.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values.config) {
    process.stderr.write('usage: node --import tsx simulator/main.ts --config room.json   (see docs/simulator.md)\n');
    return values.help ? 0 : 2;
  }
  const loaded = loadConfigFile(values.config, simConfigSchema);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`${e}\n`);
    return 2;
  }
  const cfg = loaded.config;
  const logger = createLogger({ name: 'laundry-sim', level: cfg.logLevel });
  const room = new SimRoom({
    units: cfg.units === 'demo' ? demoRoomUnits() : cfg.units,
    timeScale: cfg.timeScale,
    replyDelayMs: cfg.replyDelayMs,
    logger,
    ...(cfg.statePath ? { statePath: cfg.statePath } : {}),
  });
  room.start();
  let control: ControlServer | null = null;
  try {
    for (const t of cfg.tcp) await room.listenTcp(t);
    for (const s of cfg.serial) await room.attachSerial(s);
    if (cfg.control) control = await startControlServer(room.control, { ...cfg.control, logger });
  } catch (err) {
    logger.error({ err }, 'simulator failed to start');
    await room.close();
    return 1;
  }
  logger.info({ units: room.control.units() }, 'simulated laundry room running');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('stopping');
  await control?.close();
  await room.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`simulator crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
