// `laundry-gateway doctor`: the checks an installer runs over SSH before blaming the code. Each
// check says ok, warn, fail or skip with a detail an operator can act on. It only reads: the
// bus port is never opened (the daemon may own it), the ledger is opened read-only.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import { controlRequest } from '../control/client.js';
import { loadSecureCardKeys } from '../secure-cards/keys.js';
import type { Endpoints } from './config.js';
import { exposureFindings } from './exposure-checks.js';
import { bytes } from './format.js';
import { openLedgerReadOnly, type ReadOnlyLedger } from '../../storage/readonly.js';

export type CheckLevel = 'ok' | 'warn' | 'fail' | 'skip';
export interface CheckResult {
  check: string;
  level: CheckLevel;
  detail: string;
}

export interface DoctorOptions {
  endpoints: Endpoints;
  serviceName?: string;
  byIdDir?: string;
  timesyncFlag?: string;
  /** Free space below this fails the check; below 10x it warns. */
  minFreeBytes?: number;
  connectTimeoutMs?: number;
}

const BY_ID = '/dev/serial/by-id';

function devices(e: Endpoints): Array<{ what: string; path: string }> {
  const c = e.config;
  if (!c) return [];
  const buses = c.buses.flatMap((b) => (b.transport.type === 'serial' ? [{ what: `bus ${b.id}`, path: b.transport.path }] : []));
  return [...buses, ...c.readers.map((r) => ({ what: `reader ${r.id}`, path: r.path }))];
}

function checkDevice(d: { what: string; path: string }): CheckResult {
  const check = `device ${d.what}`;
  if (!existsSync(d.path)) return { check, level: 'fail', detail: `${d.path} does not exist (adapter unplugged, or a different by-id name?)` };
  const st = statSync(d.path);
  if (!st.isCharacterDevice()) return { check, level: 'fail', detail: `${d.path} is not a character device` };
  const mode = (st.mode & 0o777).toString(8);
  try {
    accessSync(d.path, constants.R_OK | constants.W_OK);
  } catch {
    return { check, level: 'warn', detail: `${d.path} (mode ${mode}, gid ${st.gid}) is not read-write for this user; the service user needs group dialout` };
  }
  const stable = d.path.startsWith(`${BY_ID}/`) || d.path.startsWith('/dev/laundry-');
  return { check, level: stable ? 'ok' : 'warn', detail: `${d.path} present, read-write (mode ${mode})${stable ? '' : '; use a /dev/serial/by-id or udev name: ttyUSBn numbers change on replug'}` };
}

/** The secure-card key file: present, owner-only, well-formed; only its versions are shown. */
export function checkSecureCardKeys(e: Endpoints): CheckResult {
  const check = 'secure-card keys';
  const sc = e.config?.secureCards;
  if (sc === undefined) return { check, level: 'skip', detail: 'no secureCards block: no type S readers' };
  const r = loadSecureCardKeys(sc.keyFile);
  // Not there yet is no fault of the room (it starts and waits for the key downlink), but no secure tap vends until then.
  if (!r.ok && r.missing === true) return { check, level: 'warn', detail: `${sc.keyFile}: no key file yet: every secure tap is declined unknown_card until the key downlink or the operator provides it` };
  if (!r.ok) return { check, level: 'fail', detail: r.errors.join('; ') };
  return { check, level: 'ok', detail: `${sc.keyFile}: key versions ${r.keys.versions.join(', ')}${sc.refusePlainCards ? '; plain cards refused' : ''}` };
}

function checkById(dir: string): CheckResult {
  if (!existsSync(dir)) return { check: 'serial adapters', level: 'warn', detail: `${dir} is missing: no USB serial adapter is plugged in` };
  const names = readdirSync(dir);
  return { check: 'serial adapters', level: names.length > 0 ? 'ok' : 'warn', detail: names.length > 0 ? names.join(', ') : 'none plugged in' };
}

function checkDatabase(e: Endpoints): CheckResult[] {
  const loc = e.ledger;
  if (!loc) return [{ check: 'database', level: 'skip', detail: 'config unreadable' }];
  try {
    const l = openLedgerReadOnly(loc);
    try {
      const ic = l.integrityCheck({ quick: true });
      const s = l.stats();
      const size = `${bytes(s.fileBytes)} + ${bytes(s.walBytes)} WAL, ${s.vends} vends, schema ${l.schemaVersion}`;
      return [
        { check: 'database integrity', level: ic.ok ? 'ok' : 'fail', detail: ic.ok ? `quick_check ok (${size})` : `${ic.messages.slice(0, 3).join('; ')}; ${ic.foreignKeyViolations} foreign key violations` },
        ...(ic.ok ? [checkMoneyRows(l)] : []),
        { check: 'database unfinished vends', level: s.unfinishedVends === 0 ? 'ok' : 'warn', detail: `${s.unfinishedVends} vend(s) held or credited and not settled` },
      ];
    } finally {
      l.close();
    }
  } catch (err) {
    return [{ check: 'database integrity', level: 'fail', detail: err instanceof Error ? err.message : String(err) }];
  }
}

/** `audit verify` without the cloud's heads: the chains, every money row, the acknowledged anchors. */
function checkMoneyRows(l: ReadOnlyLedger): CheckResult {
  const check = 'audit and money rows';
  try {
    const v = l.verifyAudit();
    if (!v.ok) return { check, level: 'fail', detail: `${v.problems.length} problem(s), run \`laundry-gateway audit verify\`: ${v.problems.slice(0, 3).join('; ')}` };
    const anchored = v.anchors.filter((a) => a.result === 'contained').map((a) => `${a.chain} #${a.seq}`);
    const detail = `${v.count} audit records, ${v.money.entries} entries, ${v.money.vends} vends, ${v.money.accounts} accounts agree with the chains`;
    return anchored.length > 0
      ? { check, level: 'ok', detail: `${detail}; the cloud's acknowledged heads ${anchored.join(', ')} are in them` }
      : { check, level: 'warn', detail: `${detail}; no head acknowledged by the cloud yet, so a rewrite of the whole file could not be told` };
  } catch (err) {
    return { check, level: 'fail', detail: err instanceof Error ? err.message : String(err) };
  }
}

function checkDisk(e: Endpoints, minFree: number): CheckResult {
  const dir = e.ledger ? dirname(e.ledger.path) : '/var/lib/laundry-gateway';
  try {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    const level: CheckLevel = free < minFree ? 'fail' : free < minFree * 10 ? 'warn' : 'ok';
    return { check: 'free disk', level, detail: `${bytes(free)} free of ${bytes(s.blocks * s.bsize)} at ${dir}` };
  } catch (err) {
    return { check: 'free disk', level: 'skip', detail: `${dir}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function checkClock(flag: string): CheckResult {
  if (existsSync(flag)) return { check: 'clock sync', level: 'ok', detail: `synchronized (${flag})` };
  const r = spawnSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', timeout: 3000 });
  if (r.status === 0 && r.stdout.trim() === 'yes') return { check: 'clock sync', level: 'ok', detail: 'timedatectl: NTP synchronized' };
  if (r.status === 0) return { check: 'clock sync', level: 'warn', detail: 'not synchronized: offline vends are time-stamped against the time floor only' };
  return { check: 'clock sync', level: 'warn', detail: `unknown: no ${flag} and timedatectl cannot tell (${(r.stderr || (r.error?.message ?? '')).trim().split('\n')[0] ?? ''})` };
}

/** The mqtt block belongs to another part and may not exist yet: read loosely, skip if absent. */
const mqttUrlSchema = z.looseObject({ mqtt: z.looseObject({ url: z.string().optional(), brokerUrl: z.string().optional() }) });

function brokerOf(configPath: string): URL | null | 'invalid' {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch {
    return null;
  }
  const p = mqttUrlSchema.safeParse(raw);
  const s = p.success ? (p.data.mqtt.url ?? p.data.mqtt.brokerUrl) : undefined;
  if (s === undefined) return null;
  try {
    return new URL(s);
  } catch {
    return 'invalid';
  }
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'mqtt:': 1883, 'tcp:': 1883, 'mqtts:': 8883, 'ssl:': 8883, 'tls:': 8883, 'ws:': 80, 'wss:': 443 };

function checkBroker(configPath: string, timeoutMs: number): Promise<CheckResult> {
  const url = brokerOf(configPath);
  if (url === null) return Promise.resolve({ check: 'broker', level: 'skip', detail: 'no mqtt block in the config' });
  if (url === 'invalid') return Promise.resolve({ check: 'broker', level: 'fail', detail: 'mqtt url is not a URL' });
  return tcpReachable('broker', url, timeoutMs);
}

/** The building's broker of the Home Assistant feature, when the config has one. */
function checkHomeAssistantBroker(e: Endpoints, timeoutMs: number): Promise<CheckResult> {
  const check = 'home assistant broker';
  const raw = e.config?.homeAssistant?.url;
  if (raw === undefined) return Promise.resolve({ check, level: 'skip', detail: 'no homeAssistant block in the config' });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return Promise.resolve({ check, level: 'fail', detail: 'homeAssistant url is not a URL' });
  }
  return tcpReachable(check, url, timeoutMs);
}

function tcpReachable(check: string, url: URL, timeoutMs: number): Promise<CheckResult> {
  const port = url.port !== '' ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 1883);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: CheckResult): void => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done({ check, level: 'fail', detail: `${host}:${port}: no TCP connection within ${timeoutMs} ms` }));
    s.once('connect', () => done({ check, level: 'ok', detail: `${host}:${port} accepts TCP connections` }));
    s.once('error', (err) => done({ check, level: 'fail', detail: `${host}:${port}: ${err.message}` }));
  });
}

function checkService(name: string): CheckResult {
  const r = spawnSync('systemctl', ['is-active', name], { encoding: 'utf8', timeout: 3000 });
  if (r.error) return { check: 'service', level: 'skip', detail: 'systemctl not available' };
  const state = r.stdout.trim();
  if (state === 'active') return { check: 'service', level: 'ok', detail: `${name}: active` };
  if (state === '' || /not been booted with systemd|Failed to connect/i.test(r.stderr)) return { check: 'service', level: 'skip', detail: 'systemd is not running here' };
  return { check: 'service', level: state === 'activating' || state === 'reloading' ? 'warn' : 'fail', detail: `${name}: ${state}` };
}

async function checkDaemon(e: Endpoints, timeoutMs: number): Promise<CheckResult> {
  const r = await controlRequest({ socketPath: e.socketPath, timeoutMs }, { cmd: 'status' });
  if (r.kind === 'ok') {
    const down = r.result.buses.filter((b) => !b.portUp).map((b) => b.id);
    const detail = `answers on ${e.socketPath}; ${r.result.buses.map((b) => `bus ${b.id} ${b.portUp ? 'up' : 'DOWN'}, ${b.unitsDiscovered}/${b.unitsConfigured} units`).join('; ')}`;
    return { check: 'daemon', level: down.length > 0 ? 'fail' : 'ok', detail };
  }
  return { check: 'daemon', level: 'fail', detail: r.kind === 'error' ? r.message : r.detail };
}

export async function doctor(o: DoctorOptions): Promise<CheckResult[]> {
  const e = o.endpoints;
  const results: CheckResult[] = [];
  results.push(
    e.config
      ? { check: 'config', level: 'ok', detail: `${e.configPath} is valid` }
      : { check: 'config', level: 'fail', detail: `${e.configPath}: ${e.configErrors.slice(0, 3).join('; ')}` },
  );
  results.push(checkById(o.byIdDir ?? BY_ID));
  for (const d of devices(e)) results.push(checkDevice(d));
  results.push(...checkDatabase(e));
  results.push(checkSecureCardKeys(e));
  if (e.config) {
    for (const f of exposureFindings(e.configPath, e.config)) results.push({ check: f.check, level: f.warning === null ? 'ok' : 'warn', detail: f.warning ?? f.ok });
  }
  results.push(checkDisk(e, o.minFreeBytes ?? 50 * 1024 * 1024));
  results.push(checkClock(o.timesyncFlag ?? '/run/systemd/timesync/synchronized'));
  results.push(await checkBroker(e.configPath, o.connectTimeoutMs ?? 3000));
  results.push(await checkHomeAssistantBroker(e, o.connectTimeoutMs ?? 3000));
  results.push(checkService(o.serviceName ?? 'laundry-gateway'));
  results.push(await checkDaemon(e, o.connectTimeoutMs ?? 3000));
  return results;
}

export function formatDoctor(results: readonly CheckResult[]): string {
  const mark: Record<CheckLevel, string> = { ok: ' ok ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };
  const w = Math.max(...results.map((r) => r.check.length));
  return results.map((r) => `[${mark[r.level]}] ${r.check.padEnd(w)}  ${r.detail}`).join('\n');
}
