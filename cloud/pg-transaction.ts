// One PostgreSQL transaction on a pooled connection, the way every cloud write needs it.
// A checked-out client whose server goes away (PostgreSQL restarting) emits 'error' between
// queries; unheard, that kills the process. The next query rejects with it: that is where it is
// handled (the caller retries). A connection that failed mid-transaction is not handed out again.
import type { Pool, PoolClient } from 'pg';

export async function inTransaction<T>(pool: Pool, body: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  const lost = (): void => {
    broken = true;
  };
  c.on('error', lost);
  try {
    await c.query('BEGIN');
    const out = await body(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    broken = true;
    // The first error is the one to report; a failed ROLLBACK means the connection is gone.
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.off('error', lost);
    c.release(broken);
  }
}
