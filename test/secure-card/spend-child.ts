// Child for the SIGKILL test: holds vends for one secure card with counters 1, 2, 3, ... on a
// ledger file, a line on stdout after each commit, until it is killed.
import { silentLogger } from '../../gateway/core/log.js';
import { openLedger } from '../../storage/index.js';
import { systemClock } from '../../gateway/core/clock.js';

const [path, secretHex, uid] = process.argv.slice(2);
if (path === undefined || secretHex === undefined || uid === undefined) throw new Error('usage: spend-child <path> <secret> <uid>');
const ledger = openLedger({ path, roomSecret: Buffer.from(secretHex, 'hex'), gatewayId: 'gw-test', bootId: `boot-${process.pid}`, clock: systemClock, logger: silentLogger() });
let counter = (ledger.secureCardFacts(uid).roomCounter ?? 0) + 1;
process.stdout.write('ready\n');
for (;;) {
  const r = ledger.hold({ method: 'card', funding: 'none', machineId: 'W1', amountCents: 0, cardUid: uid, sunCounter: counter, ruleSetVersion: 'rs', ruleId: 'free' });
  if (!r.ok) throw new Error(`hold ${counter} refused: ${r.outcome}`);
  process.stdout.write(`${counter}\n`);
  counter++;
}
