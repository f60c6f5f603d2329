// A week offline, made in seconds: unsent outbox records written into a ledger file through the
// ledger's own storage functions (so every row, index, audit record and meta value is what the
// daemon would have written), in one transaction with synchronous=OFF, before the daemon opens
// the file. The mix is a room's: each vend leaves its hold, credit-sent and capture records and
// about four machine_state events (credited, running, done, idle); the vends are account-funded
// and spread over many accounts, so the risk rules' unsynced exposure has real rows to sum.
import { dirname, join } from 'node:path';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { applyTopUp } from '../../storage/accounts.js';
import type { LedgerContext } from '../../storage/context.js';
import { openDatabase } from '../../storage/db.js';
import { enqueueEvent } from '../../storage/outbox.js';
import { capture, hold, markCreditSent } from '../../storage/vends.js';
import { ROOM_ID } from '../engine/harness.js';

/** Outbox records one vend of the backlog leaves: 3 of the vend, 4 machine_state events. */
export const RECORDS_PER_VEND = 7;

export interface Backlog {
  records: number;
  vends: number;
  accounts: number;
  seconds: number;
}

export interface BacklogOptions {
  accounts?: number;
  /** Names this fill's accounts and top-ups, so a ledger can be filled again (default 'backlog'). */
  tag?: string;
  /** Machine id prefix of the backlog's vends (default 'M', the vend rig's machines). */
  machinePrefix?: string;
}

export function fillBacklog(dbPath: string, records: number, o: BacklogOptions = {}): Backlog {
  const accounts = o.accounts ?? 200;
  const tag = o.tag ?? 'backlog';
  const machinePrefix = o.machinePrefix ?? 'M';
  const t0 = performance.now();
  const db = openDatabase({ path: dbPath, logger: silentLogger() });
  try {
    // Only for the fill: the daemon opens the file again at synchronous=FULL. No checkpoint at
    // the commit either: SQLite's automatic one would run at synchronous=OFF, copy the whole
    // WAL into ledger.db without an fsync and mark it copied, and the FULL checkpoint below
    // would then find nothing to copy and fsync nothing (the fill's ~65 MB stayed dirty in the
    // page cache, written back by the drain's first checkpoint: docs/performance.md section 10).
    db.pragma('synchronous = OFF');
    db.pragma('wal_autocheckpoint = 0');
    const ctx: LedgerContext = {
      db,
      clock: systemClock,
      logger: silentLogger(),
      gatewayId: ROOM_ID,
      bootId: 'bench-backlog',
      roomSecret: loadOrCreateRoomSecret(join(dirname(dbPath), 'room-secret')),
      clockTrusted: () => true,
    };
    const vends = Math.floor(records / RECORDS_PER_VEND);
    const events = records - vends * 3;
    db.transaction(() => {
      for (let a = 0; a < accounts; a++) applyTopUp(ctx, { cloudId: `${tag}-topup-${a}`, accountId: `acct-${tag}-${a}`, amountCents: 10_000_000, accountVersion: 1 });
      let ev = 0;
      for (let i = 0; i < vends; i++) {
        const machineId = `${machinePrefix}${(i % 24) + 1}`;
        const h = hold(ctx, { method: 'card', funding: 'account', machineId, program: 1, machineKind: 'washer', amountCents: 250, accountId: `acct-${tag}-${i % accounts}`, ruleSetVersion: 'demo-1', ruleId: 'w-quick' });
        if (!h.ok) throw new Error(`backlog hold refused: ${h.outcome}`);
        markCreditSent(ctx, h.vendId, { profile: 'lw485', seq: (i % 65_000) + 1 });
        capture(ctx, h.vendId);
        for (const status of ['credited', 'running', 'done', 'idle']) {
          if (ev >= events) break;
          enqueueEvent(ctx, 'machine_state', { machineId, status, program: 1, remainingSec: 0, faultCode: null, door: 'closed', at: Date.now() });
          ev++;
        }
      }
      for (; ev < events; ev++) enqueueEvent(ctx, 'machine_state', { machineId: `${machinePrefix}1`, status: 'idle', program: null, remainingSec: 0, faultCode: null, door: 'closed', at: Date.now() });
    })();
    // On disk before the daemon goes on, as a week's records would be (the daemon's own
    // checkpoints fsync ledger.db): copied from the WAL and fsync'd here, the WAL emptied.
    db.pragma('synchronous = FULL');
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { records, vends, accounts, seconds: (performance.now() - t0) / 1000 };
  } finally {
    db.close();
  }
}
