// Progress reads of the two SQLite files while their writers run (the daemon's ledger, the
// consumer's store), off the main thread: better-sqlite3 is synchronous, and a read that waits on
// a lock must not freeze the simulated room, the customers and the chaos that share this thread.
// A read that does not answer in time counts as "not known yet"; its worker is replaced.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const Database = require(${JSON.stringify(BETTER_SQLITE3)});
parentPort.on('message', ({ id, path, sql, params }) => {
  let db = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
    parentPort.postMessage({ id, row: db.prepare(sql).get(...params) ?? null });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  } finally {
    if (db) db.close();
  }
});`;

type Row = Record<string, number> | null;

export class SqliteProbe {
  private worker: Worker | null = null;
  private next = 0;
  private readonly waiting = new Map<number, (r: Row | undefined) => void>();
  /** Reads that did not answer within their time (the worker was replaced each time). */
  stuckReads = 0;

  private get w(): Worker {
    if (this.worker === null) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (m: { id: number; row?: Row; error?: string }) => {
        const done = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        done?.(m.error === undefined ? (m.row ?? null) : undefined);
      });
      w.on('error', () => this.drop(w));
      this.worker = w;
    }
    return this.worker;
  }

  private drop(w: Worker): void {
    if (this.worker === w) this.worker = null;
    void w.terminate();
    for (const done of this.waiting.values()) done(undefined);
    this.waiting.clear();
  }

  /** One row, or undefined when the file cannot be read (yet) or did not answer in `ms`. */
  get(path: string, sql: string, params: unknown[] = [], ms = 5000): Promise<Row | undefined> {
    const id = this.next++;
    const w = this.w;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        if (!this.waiting.has(id)) return;
        this.stuckReads++;
        this.drop(w);
      }, ms);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      w.postMessage({ id, path, sql, params });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

/** The ledger's outbox watermarks and open vends, as the daemon writes them. */
export async function ledgerProgress(p: SqliteProbe, dbPath: string): Promise<{ lastSeq: number; ackedSeq: number; unfinished: number } | undefined> {
  const r = await p.get(
    dbPath,
    `SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_last_seq') AS lastSeq,
            (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_acked_seq') AS ackedSeq,
            (SELECT COUNT(*) FROM vends WHERE state IN ('held', 'credit_sent')) AS unfinished`,
  );
  if (!r) return undefined;
  return { lastSeq: r.lastSeq ?? 0, ackedSeq: r.ackedSeq ?? 0, unfinished: r.unfinished ?? 0 };
}

/** What the consumer stored so far for one gateway. */
export async function consumerProgress(p: SqliteProbe, dbPath: string, gatewayId: string): Promise<{ count: number; maxSeq: number }> {
  const r = await p.get(dbPath, 'SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS m FROM records WHERE gateway = ?', [gatewayId]);
  return { count: r?.n ?? 0, maxSeq: r?.m ?? 0 };
}
