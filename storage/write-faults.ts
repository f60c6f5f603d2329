// A fault-injecting seam at the storage boundary, for tests of what a dying SD card does to the
// money paths: the ledger's next N writes (or those matching a statement or a ledger operation)
// throw the SqliteError better-sqlite3 throws for SQLITE_IOERR, SQLITE_FULL or SQLITE_READONLY.
// The throw comes from inside the statement, so the transaction around it rolls back exactly as
// it does when SQLite itself fails. Only a ledger opened with `writeFaults` goes through it: the
// production path keeps the bare connection, at no cost.
import Database from 'better-sqlite3';
import type { Db } from './db.js';

export type SqliteFaultCode = 'SQLITE_IOERR' | 'SQLITE_FULL' | 'SQLITE_READONLY';

const MESSAGES: Record<SqliteFaultCode, string> = {
  SQLITE_IOERR: 'disk I/O error',
  SQLITE_FULL: 'database or disk is full',
  SQLITE_READONLY: 'attempt to write a readonly database',
};

export interface WriteFaultRule {
  code: SqliteFaultCode;
  /** How many matching writes fail; Infinity: until clear(). Default 1. */
  count?: number;
  /** Only writes whose SQL matches (a substring or a pattern), e.g. /SET state = 'captured'/. */
  sql?: string | RegExp;
  /** Only writes made inside this Ledger method (its name: 'capture', 'refund', 'hold', 'applyTopUp', ...). */
  op?: string;
  /** Matching writes to let through before the first failure. Default 0. */
  skip?: number;
}

interface ActiveRule {
  code: SqliteFaultCode;
  left: number;
  skip: number;
  sql?: string | RegExp;
  op?: string;
}

/** What a test holds to fail the ledger's writes; pass it to openLedger({ writeFaults }). */
export class WriteFaults {
  private rules: ActiveRule[] = [];
  /** Ledger methods being run, innermost last (set by the ledger when faults are wired). */
  private readonly ops: string[] = [];
  /** Writes failed so far. */
  injected = 0;
  /** Writes attempted so far (failed or not), to aim a fault at "the k-th write". */
  writes = 0;

  /** The next `count` writes (matching sql/op when given) throw `code`. */
  fail(rule: WriteFaultRule): this {
    this.rules.push({ code: rule.code, left: rule.count ?? 1, skip: rule.skip ?? 0, ...(rule.sql !== undefined ? { sql: rule.sql } : {}), ...(rule.op !== undefined ? { op: rule.op } : {}) });
    return this;
  }

  /** Every write fails with `code` until clear(): a read-only remount or a full card. */
  failAll(code: SqliteFaultCode): this {
    return this.fail({ code, count: Number.POSITIVE_INFINITY });
  }

  clear(): this {
    this.rules = [];
    return this;
  }

  /** Whether any rule is still armed. */
  get armed(): boolean {
    return this.rules.some((r) => r.left > 0);
  }

  /** @internal the ledger brackets each of its methods with these. */
  enter(op: string): void {
    this.ops.push(op);
  }

  /** @internal */
  leave(): void {
    this.ops.pop();
  }

  /** @internal throws the SqliteError when a rule says this write fails. */
  check(sql: string): void {
    this.writes++;
    const op = this.ops[this.ops.length - 1];
    for (const r of this.rules) {
      if (r.left <= 0) continue;
      if (r.op !== undefined && r.op !== op) continue;
      if (r.sql !== undefined && !(typeof r.sql === 'string' ? sql.includes(r.sql) : r.sql.test(sql))) continue;
      if (r.skip > 0) {
        r.skip--;
        continue;
      }
      r.left--;
      this.injected++;
      this.rules = this.rules.filter((x) => x.left > 0);
      throw new Database.SqliteError(MESSAGES[r.code], r.code);
    }
  }
}

/**
 * The connection seen through the faults: prepared write statements (not readers) check before
 * run(), exec() checks too. Everything else is the real connection.
 */
export function withWriteFaults(db: Db, faults: WriteFaults): Db {
  const statements = new WeakMap<object, object>();
  const wrapStatement = (stmt: Database.Statement, sql: string): Database.Statement => {
    if (stmt.reader) return stmt;
    const cached = statements.get(stmt);
    if (cached !== undefined) return cached as Database.Statement;
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'run' && typeof value === 'function') {
          return (...args: unknown[]) => {
            faults.check(sql);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    statements.set(stmt, proxy);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return (sql: string) => wrapStatement(target.prepare(sql), sql);
      if (prop === 'exec') {
        return (sql: string) => {
          faults.check(sql);
          return target.exec(sql);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Brackets each method of the ledger so rules can aim at one operation. */
export function bracketOps<T extends object>(ledger: T, faults: WriteFaults): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ledger)) {
    if (typeof v === 'function') {
      out[k] = (...args: unknown[]) => {
        faults.enter(k);
        try {
          return (v as (...a: unknown[]) => unknown)(...args);
        } finally {
          faults.leave();
        }
      };
    } else if (v !== null && typeof v === 'object' && k === 'outbox') {
      out[k] = bracketOps(v, faults);
    } else {
      out[k] = v;
    }
  }
  return out as T;
}
