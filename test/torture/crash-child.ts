// The gateway side of the crash and power-cut torture (crash.ts, power-cut.ts): a whole Daemon
// with its uplink pointed at a real Mosquitto, on the ledger file the parent checks, killed with
// SIGKILL by the parent at random moments.
//   crash-child '<json options>'      (see ChildOptions)
// Protocol on stdio: the child loads its modules, waits for "go <simPort>" (so the parent can
// spawn the next child while it still checks the last, and name the simulator's port only when
// it is known), starts the daemon (start-up reconcile included), prints "ready <blocked
// machines>", waits for "vend", then swipes cards at every free machine and clears faults the
// room's attendant has fixed, until killed. Each finished vend is printed as
// "vend <result> <machineId> <reason>".
import { z } from 'zod';
import { Daemon } from '../../gateway/daemon.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { CARDS, testConfig } from '../engine/harness.js';
import { childMqttConfig } from './lib-room.js';

const optionsSchema = z.strictObject({
  dbPath: z.string().min(1),
  seed: z.number().int(),
  mqttUrl: z.string().min(1),
  configPublicKey: z.string().min(1),
});

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const opts = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));

let rx = '';
const waiters: Array<{ re: RegExp; resolve: (m: RegExpExecArray) => void }> = [];
process.stdin.setEncoding('utf8').on('data', (s: string) => {
  rx += s;
  for (const w of [...waiters]) {
    const m = w.re.exec(rx);
    if (m) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  }
});
const heard = (re: RegExp): Promise<RegExpExecArray> =>
  new Promise((resolve) => {
    const m = re.exec(rx);
    if (m) resolve(m);
    else waiters.push({ re, resolve });
  });

let seed = opts.seed >>> 0;
const rnd = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const go = await heard(/^go (\d+)\n/m);
const port = Number(go[1]);
const config = gatewayConfigSchema.parse({
  ...testConfig({ port, dbPath: opts.dbPath, pollIntervalMs: 50 }),
  faultRefund: { mode: 'prorated', withinShare: 0.9 },
  mqtt: childMqttConfig(opts.mqttUrl, opts.configPublicKey),
});
// CRASH_CHILD_LOG=<level>: the daemon's log on stderr, which the parent keeps for a failed check.
const level = process.env.CRASH_CHILD_LOG;
const daemon = new Daemon(config, { logger: level ? createLogger({ level, destination: 2 }) : silentLogger(), clock: systemClock });
await daemon.start();
say(`ready ${daemon.engine.blockedMachines().join(',')}`);
await heard(/^vend\n/m);

const MACHINES = ['W1', 'W2', 'D1', 'C1', 'C3'];
const PAYERS = [CARDS.alice.uid, CARDS.alice.uid, CARDS.bob.uid];
async function worker(machineId: string): Promise<void> {
  for (;;) {
    const status = daemon.machines.state(machineId)?.status;
    if (status === 'idle' || status === 'done') {
      const uid = PAYERS[Math.floor(rnd() * PAYERS.length)] ?? CARDS.alice.uid;
      const o = await daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid, machineId });
      const reason = o.result === 'declined' || o.result === 'refunded' ? String(o.reason) : '-';
      say(`vend ${o.result} ${machineId} ${reason}`);
      // A person takes a moment before the next one pays at the same machine.
      await new Promise((r) => setTimeout(r, 60));
    } else if (status === 'fault' && rnd() < 0.2) {
      // The attendant fixed the condition (or will); the operator clears the fault.
      const r = await daemon.machines.commander(machineId).clearFault();
      say(`clear ${r.status} ${machineId}`);
    }
    await new Promise((r) => setTimeout(r, 5 + Math.floor(rnd() * 30)));
  }
}
await Promise.all(MACHINES.map((m) => worker(m)));
