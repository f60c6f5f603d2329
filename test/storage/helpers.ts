// Shared test set-up: a real ledger file in a fresh temp dir, a clock the test drives.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { openLedger, WriteFaults, type Ledger, type OpenLedgerOptions } from '../../storage/index.js';

export const ROOM_SECRET = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
export const GATEWAY_ID = 'gw-test';

export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function manualClock(startMs = Date.UTC(2026, 10, 25, 12, 0, 0)): ManualClock {
  let wall = startMs;
  let mono = 1000;
  return {
    now: () => wall,
    monotonic: () => mono,
    advance(ms) {
      wall += ms;
      mono += ms;
    },
    set(ms) {
      wall = ms;
    },
  };
}

/**
 * A fresh directory. memory=true puts it on /dev/shm where there is one: for tests of logic
 * that make thousands of commits, where each fsync of a real disk would only cost time.
 */
export function tempDir(prefix = 'ledger-', memory = false): { dir: string; file(name: string): string; cleanup(): void } {
  const base = memory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, prefix));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openTestLedger(path: string, over: Partial<OpenLedgerOptions> = {}): Ledger {
  return openLedger({
    path,
    roomSecret: ROOM_SECRET,
    gatewayId: GATEWAY_ID,
    bootId: 'boot-1',
    clock: manualClock(),
    logger: silentLogger(),
    ...over,
  });
}

/** A fresh ledger file for fn, closed and removed afterwards whatever fn does. */
export async function withTestLedger(fn: (ledger: Ledger, path: string) => void | Promise<void>): Promise<void> {
  const t = tempDir();
  const path = t.file('ledger.db');
  const ledger = openTestLedger(path);
  try {
    await fn(ledger, path);
  } finally {
    ledger.close();
    t.cleanup();
  }
}

/** A hold with the fields a test does not care about filled in. */
export function cardHold(accountId: string, amountCents: number, extra: Record<string, unknown> = {}) {
  return {
    method: 'card' as const,
    funding: 'account' as const,
    machineId: 'W1',
    program: 2,
    amountCents,
    accountId,
    cardUid: '04A2B9C1D25E80',
    ruleSetVersion: 'rs-7',
    ruleId: 'wash-std',
    ...extra,
  };
}

/** A fresh ledger file whose writes can be failed (storage/write-faults.ts), closed and removed afterwards. */
export function withFaultyLedger(fn: (ledger: Ledger, faults: WriteFaults) => void): void {
  const t = tempDir();
  const faults = new WriteFaults();
  const ledger = openTestLedger(t.file('l.db'), { writeFaults: faults });
  try {
    fn(ledger, faults);
  } finally {
    ledger.close();
    t.cleanup();
  }
}
