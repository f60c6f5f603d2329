// The exposure checks `run` logs at start and `doctor` reports: the status page beyond loopback
// over plain HTTP, and config, ledger and room secret files that other users can read.
import { dirname, join } from 'node:path';
import { fileModeWarning, listenWarning } from '../core/exposure.js';
import type { RunConfig } from './config.js';

export interface ExposureFinding {
  check: string;
  warning: string | null;
  ok: string;
}

export function exposureFindings(configPath: string, config: RunConfig): ExposureFinding[] {
  const db = config.database.path;
  const secret = join(dirname(db), 'room-secret');
  return [
    { check: 'web exposure', warning: listenWarning(config.web.host, config.web.operatorToken !== undefined), ok: `the status page listens on ${config.web.host} only` },
    { check: 'config file mode', warning: fileModeWarning('config file', configPath), ok: `${configPath}: not readable by other users` },
    { check: 'ledger file mode', warning: fileModeWarning('ledger', db), ok: `${db}: not readable by other users` },
    { check: 'room secret mode', warning: fileModeWarning('room secret', secret), ok: `${secret}: not readable by other users` },
  ];
}

export function startWarnings(configPath: string, config: RunConfig): string[] {
  return exposureFindings(configPath, config).flatMap((f) => (f.warning === null ? [] : [f.warning]));
}
