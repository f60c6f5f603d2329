// The end of a crash or power-cut run: one last gateway start that is not killed until it has
// settled everything, applied every downlink the cloud sent and drained its outbox; then the
// last checks of the file, and the vend figures.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { CloudDriver, PublishedTopUp } from './lib-cloud.js';
import { checkDelivery, type LedgerChecker, type MachineCounts } from './lib-checks.js';
import type { GatewayChild } from './lib-gateway.js';
import { delay, withDeadline } from './lib-room.js';

const DRAIN_DEADLINE_MS = 90_000;
const STABLE_DONE_MS = 2_000;

interface DrainState {
  queued: number;
  unfinished: number;
  topUpsMissing: number;
  cardVersion: number;
  configVersion: number;
}

function drainState(dbPath: string, driver: CloudDriver, seedTopUps: number): DrainState {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const n = (sql: string): number => Number((db.prepare(sql).get() as { n: number | string | null } | undefined)?.n ?? 0);
    const applied = n(`SELECT COUNT(*) AS n FROM entries WHERE kind = 'topup'`);
    // A top-up an applied snapshot already holds (its accountVersion at or below the snapshot's)
    // is refused old_version by design: it is in the balance, not missing.
    const snapshotVersion = new Map((db.prepare('SELECT account_id AS a, version AS v FROM accounts').all() as { a: string; v: number }[]).map((r) => [r.a, r.v]));
    const appliedIds = new Set((db.prepare(`SELECT cloud_id AS c FROM entries WHERE kind = 'topup'`).all() as { c: string }[]).map((r) => r.c));
    const covered = driver.topUps.filter((t) => !appliedIds.has(t.cloudId) && t.accountVersion <= (snapshotVersion.get(t.accountId) ?? 0)).length;
    return {
      queued: n('SELECT COUNT(*) AS n FROM outbox'),
      unfinished: n(`SELECT COUNT(*) AS n FROM vends WHERE state IN ('held', 'credit_sent')`),
      topUpsMissing: driver.topUps.length + seedTopUps - applied - covered,
      cardVersion: n(`SELECT value AS n FROM meta WHERE key = 'card_list_version'`),
      configVersion: n(`SELECT value AS n FROM settings WHERE key = 'uplink.roomConfigVersion'`),
    };
  } finally {
    db.close();
  }
}

export async function drainAndFinish(o: {
  next: GatewayChild;
  simPort: number;
  checker: LedgerChecker;
  dbPath: string;
  driver: CloudDriver;
  seedTopUps: number;
  counts: () => Promise<MachineCounts | null>;
  violations: string[];
  log: (line: string) => void;
}): Promise<{ child: GatewayChild; stderr: string; drainMs: number }> {
  const t0 = Date.now();
  const c = o.next;
  c.go(o.simPort);
  await withDeadline(c.ready, 30_000, 'final child ready');
  const until = Date.now() + DRAIN_DEADLINE_MS;
  let s = drainState(o.dbPath, o.driver, o.seedTopUps);
  const done = (x: DrainState): boolean => x.queued === 0 && x.unfinished === 0 && x.topUpsMissing === 0 && x.cardVersion === o.driver.cardVersion && x.configVersion === o.driver.configVersion;
  // Done must hold for a while: an app command the broker kept for the gateway's session can
  // still start a vend just after the first look finds everything settled, and the kill would then
  // leave that fresh hold open in a ledger the checks take for drained.
  let doneSince: number | null = null;
  while (Date.now() < until) {
    if (!done(s)) doneSince = null;
    else if (doneSince === null) doneSince = Date.now();
    else if (Date.now() - doneSince >= STABLE_DONE_MS) break;
    await delay(100);
    s = drainState(o.dbPath, o.driver, o.seedTopUps);
  }
  if (!done(s)) o.violations.push(`final drain incomplete after ${DRAIN_DEADLINE_MS / 1000} s: ${JSON.stringify(s)}; cloud sent card list ${o.driver.cardVersion}, config ${o.driver.configVersion}`);
  const drainMs = Date.now() - t0;
  o.log(`final drain: ${drainMs} ms`);
  c.kill();
  await c.exited;
  o.checker.afterKill('final', o.violations);
  o.checker.afterStart('final', o.violations, await o.counts());
  o.checker.fullAudit('final', o.violations);
  return { child: c, stderr: done(s) ? '' : c.stderr(), drainMs };
}

export function vendFigures(db: Database.Database): Record<string, number | string> {
  const byState = db.prepare('SELECT state, COUNT(*) AS n FROM vends GROUP BY state').all() as { state: string; n: number }[];
  const count = (s: string): number => byState.find((x) => x.state === s)?.n ?? 0;
  const reasons = db.prepare(`SELECT finish_reason AS r, COUNT(*) AS n FROM vends WHERE state = 'refunded' GROUP BY finish_reason ORDER BY n DESC`).all() as { r: string | null; n: number }[];
  const adj = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS c FROM vend_adjustments').get() as { n: number; c: number };
  const declines = (db.prepare(`SELECT COUNT(*) AS n FROM audit WHERE kind = 'decline'`).get() as { n: number }).n;
  return {
    vends: byState.reduce((n, x) => n + x.n, 0),
    captured: count('captured'),
    refunded: count('refunded'),
    refundReasons: reasons.map((x) => `${x.r ?? 'none'}:${x.n}`).join(' '),
    faultRefunds: adj.n,
    faultRefundCents: adj.c,
    declines,
    unfinished: count('held') + count('credit_sent'),
  };
}

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/**
 * The end of a crash or power-cut run: the last gateway drains (drainAndFinish), then the cloud's
 * store is held to the ledger (checkDelivery), and the figures both scenarios publish are read.
 * The final gateway's log is kept as test-artifacts/<logName> when the drain did not finish.
 */
export async function finishAndCheck(
  o: Parameters<typeof drainAndFinish>[0] & { logName: string; consumerDb: string; gatewayId: string; seedTopUps: number; topUps: readonly PublishedTopUp[]; outOfOrder: readonly string[]; cloudBalances?: () => ReadonlyMap<string, number> },
): Promise<{ child: GatewayChild; figures: Record<string, number | string> }> {
  const fin = await drainAndFinish(o);
  if (fin.stderr !== '') writeFileSync(join(ARTIFACTS, o.logName), fin.stderr);
  const delivery = checkDelivery({ ledgerPath: o.dbPath, consumerPath: o.consumerDb, gatewayId: o.gatewayId, topUps: o.topUps, ...(o.cloudBalances ? { cloudBalances: o.cloudBalances() } : {}) }, o.violations);
  for (const x of o.outOfOrder) o.violations.push(`consumer: ${x}`);
  const raw = new Database(o.dbPath, { readonly: true });
  const vf = vendFigures(raw);
  raw.close();
  return {
    child: fin.child,
    figures: {
      ...vf,
      topUpsPublished: o.driver.topUps.length,
      topUpsApplied: delivery.topUpsApplied - o.seedTopUps,
      cardListsPublished: o.driver.figures().cardLists,
      configsPublished: o.driver.figures().configs,
      recordsDelivered: delivery.recordsDelivered,
      recordsStillQueued: delivery.stillQueued,
      outboxLastSeq: delivery.lastSeq,
      finalDrainMs: fin.drainMs,
    },
  };
}

/** What a crash-style scenario builds and must take down whatever happened: the last child first. */
export interface ScenarioRig {
  next: GatewayChild;
  driver: CloudDriver;
  /** Timers of the room (fault injector, attendant), stopped in order. */
  stops: ReadonlyArray<() => void>;
  cloud: { close(): Promise<void> };
  sim: { close(): Promise<void> };
  child: { cleanup(): void };
  tmp: { cleanup(): void };
}

export async function tearDown(r: ScenarioRig): Promise<void> {
  r.next.kill();
  await r.next.exited;
  await r.driver.stop();
  for (const stop of r.stops) stop();
  await r.cloud.close();
  await r.sim.close();
  r.child.cleanup();
  r.tmp.cleanup();
}

/** The notes every crash-style scenario reports: how the child ran, and downlinks the cloud could not publish. */
export function childNotes(seed: number, compiled: boolean, driver: CloudDriver): string[] {
  return [`seed ${seed}; gateway child ${compiled ? 'compiled with tsc' : 'run with tsx'}`, ...driver.errors.map((e) => `cloud publish failed: ${e}`)];
}
