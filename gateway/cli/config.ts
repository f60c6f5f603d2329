// The config as `run` and the CLI read it: the gateway config plus the control block (until the
// root schema carries it itself; safeExtend then just restates it). The CLI needs only where the
// socket and the ledger are, so it can still work from defaults when the file is unreadable.
import { dirname, join } from 'node:path';
import type { z } from 'zod';
import { gatewayConfigSchema } from '../config/schema.js';
import { loadConfigFile } from '../config/load.js';
import { DEFAULT_CONTROL_SOCKET, controlConfigSchema } from '../control/config-schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/laundry-gateway/config.json';

export const runConfigSchema = gatewayConfigSchema.safeExtend({ control: controlConfigSchema });
export type RunConfig = z.output<typeof runConfigSchema>;

export interface LedgerLocation {
  path: string;
  gatewayId: string;
  roomSecretPath: string;
}

export interface Endpoints {
  configPath: string;
  socketPath: string;
  /** null when the config could not be read: read-only fallbacks are then impossible. */
  ledger: LedgerLocation | null;
  config: RunConfig | null;
  configErrors: string[];
}

export function loadRunConfig(file: string): ReturnType<typeof loadConfigFile<typeof runConfigSchema>> {
  return loadConfigFile(file, runConfigSchema);
}

export function configPathOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.LAUNDRY_GATEWAY_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** Room secret: the daemon keeps it beside the database (see daemon.ts). */
export function ledgerLocationOf(c: RunConfig): LedgerLocation {
  return { path: c.database.path, gatewayId: c.room.id, roomSecretPath: join(dirname(c.database.path), 'room-secret') };
}

export function resolveEndpoints(o: { configFlag?: string; socketFlag?: string; env?: NodeJS.ProcessEnv }): Endpoints {
  const configPath = configPathOf(o.configFlag, o.env);
  const loaded = loadRunConfig(configPath);
  const config = loaded.ok ? loaded.config : null;
  return {
    configPath,
    socketPath: o.socketFlag ?? config?.control.socketPath ?? DEFAULT_CONTROL_SOCKET,
    ledger: config ? ledgerLocationOf(config) : null,
    config,
    configErrors: loaded.ok ? [] : loaded.errors,
  };
}
