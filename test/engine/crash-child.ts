// The gateway side of the real crash test (crash.test.ts): a whole Daemon against the simulated
// room the parent runs on a TCP port, on the ledger file the parent checks. Killed with SIGKILL
// by the parent at random moments; each start settles what the last one left unfinished.
//   crash-child <port> <dbPath> <seed>
// Protocol on stdio: the child loads its modules, waits for "go" (so the parent can spawn the
// next child while it still checks the last), starts the daemon (start-up reconcile included),
// prints "ready", waits for "vend", then swipes cards at every free machine until killed. Each
// finished vend is printed as "vend <result> <machineId> <reason>".
import { Daemon } from '../../gateway/daemon.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { CARDS, testConfig } from './harness.js';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const [portArg, dbPath, seedArg] = process.argv.slice(2);
if (portArg === undefined || dbPath === undefined) {
  process.stderr.write('usage: crash-child <port> <dbPath> [seed]\n');
  process.exit(2);
}

let rx = '';
const waiters: Array<{ word: string; resolve: () => void }> = [];
process.stdin.setEncoding('utf8').on('data', (s: string) => {
  rx += s;
  for (const w of [...waiters]) {
    if (rx.includes(`${w.word}\n`)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  }
});
const heard = (word: string): Promise<void> => new Promise((resolve) => (rx.includes(`${word}\n`) ? resolve() : waiters.push({ word, resolve })));

let seed = Number(seedArg ?? '1') >>> 0;
const rnd = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

await heard('go');
const config = gatewayConfigSchema.parse(testConfig({ port: Number(portArg), dbPath, pollIntervalMs: 50 }));
// CRASH_CHILD_LOG=<level>: the daemon's log on stderr, which the parent keeps for a failed check.
const level = process.env.CRASH_CHILD_LOG;
const daemon = new Daemon(config, { logger: level ? createLogger({ level, destination: 2 }) : silentLogger(), clock: systemClock });
await daemon.start();
say(`ready ${daemon.engine.blockedMachines().join(',')}`);
await heard('vend');

const MACHINES = ['W1', 'W2', 'D1', 'C1', 'C3'];
async function worker(machineId: string): Promise<void> {
  for (;;) {
    const status = daemon.machines.state(machineId)?.status;
    if (status === 'idle' || status === 'done') {
      const o = await daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS.alice.uid, machineId });
      const reason = o.result === 'declined' || o.result === 'refunded' ? String(o.reason) : '-';
      say(`vend ${o.result} ${machineId} ${reason}`);
      // A person takes a moment before the next one pays at the same machine.
      await new Promise((r) => setTimeout(r, 60));
    }
    await new Promise((r) => setTimeout(r, 5 + Math.floor(rnd() * 30)));
  }
}
await Promise.all(MACHINES.map((m) => worker(m)));
