// The daemon's side of test/storage/wal-checkpoints.test.ts's lock test: a ledger with background
// checkpoints that looks at the WAL state and commits as fast as it can for the given time, then
// checks itself and exits 0. A SIGBUS (its wal-index truncated under it) ends it with a signal.
import { openTestLedger } from './helpers.js';

const [path, msText] = process.argv.slice(2);
if (path === undefined || msText === undefined) throw new Error('usage: wal-shm-child <ledger> <ms>');
const l = openTestLedger(path, { backgroundCheckpoints: { thresholdFrames: 1_000_000 } });
const cp = l.walCheckpoints;
if (cp === null) throw new Error('no background checkpoints');
const until = Date.now() + Number(msText);
let n = 0;
process.stdout.write('ready\n');
while (Date.now() < until) {
  cp.pending();
  l.applyTopUp({ cloudId: `c-${n}`, accountId: `acct-${n % 5}`, amountCents: 1, accountVersion: n + 1 });
  n++;
  // The event loop turns, as the daemon's does between ticks.
  await new Promise((r) => setImmediate(r));
}
if (!l.selfCheck().ok) throw new Error('self check failed');
l.close();
process.stdout.write(`done ${n}\n`);
