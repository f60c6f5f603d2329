// The gateway side of the seams torture (seams.ts): a whole Daemon on the ledger file the parent
// checks, with the storage boundary's fault seam (WriteFaults) armed on the parent's word, killed
// with SIGKILL at random moments. The parent decides every operation; the app's commands, top-ups,
// snapshots and card lists come over a real Mosquitto, the rest over stdin:
//   go <simPort>                 start the daemon; prints "ready <blocked machines>"
//   swipe <M> <uid>              a card at machine M      -> "vend <result> <vendId|-> <M> <reason|->"
//   scan <M> <text>              a QR code at machine M   -> the same
//   oref <vendId> <cents>        operator refund          -> "oref <ok|no> <vendId> <cents|reason>"
//   clear <M>                    operator clear-fault     -> "clear <status> <M>"
//   wf <code> <count> <op|->     the next <count> writes (of ledger method <op>) throw <code>
//   ro <ms>                      every write throws SQLITE_READONLY for <ms> (a remounted card)
//   reach <M>                    whether the gateway can read M now -> "reach <M> <ok|status or why not>"
// Every 100 ms it prints "inj <writes failed so far>", so the parent can count the failures.
import { z } from 'zod';
import { Daemon } from '../../gateway/daemon.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { WriteFaults, type SqliteFaultCode } from '../../storage/index.js';
import type { VendOutcome } from '../../gateway/engine/vend-engine.js';
import { testConfig } from '../engine/harness.js';
import { childMqttConfig } from './lib-room.js';

const optionsSchema = z.strictObject({
  dbPath: z.string().min(1),
  mqttUrl: z.string().min(1),
  configPublicKey: z.string().min(1),
  qrPublicKey: z.string().min(1),
});
const opts = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
const CODES: readonly SqliteFaultCode[] = ['SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY'];

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const faults = new WriteFaults();
let daemon: Daemon | null = null;

function vendLine(o: VendOutcome): string {
  const id = o.result === 'declined' ? '-' : o.vendId;
  const reason = o.result === 'declined' || o.result === 'refunded' ? String(o.reason ?? '-') : '-';
  return `vend ${o.result} ${id} ${o.machineId ?? '-'} ${reason}`;
}

async function handle(d: Daemon, line: string): Promise<void> {
  const [op, a = '', b = '', c = ''] = line.split(' ');
  switch (op) {
    case 'swipe':
      return say(vendLine(await d.engine.cardSwipe({ readerId: `r-${a}`, uid: b, machineId: a })));
    case 'scan':
      // A QR text is Base45, whose alphabet has the space: the rest of the line is the code.
      return say(vendLine(await d.scan({ readerId: `q-${a}`, text: line.slice(`scan ${a} `.length), machineId: a })));
    case 'oref': {
      const r = d.engine.commands.operatorRefund(a, Number(b), 'seams torture');
      return say(r.ok ? `oref ok ${a} ${r.refundedCents}` : `oref no ${a} ${r.reason}`);
    }
    case 'clear': {
      const r = await d.engine.commands.operator(a, 'clear-fault');
      return say(`clear ${r.status} ${a}`);
    }
    case 'wf': {
      const code = CODES.find((x) => x === a);
      if (code === undefined) throw new Error(`no fault code ${a}`);
      faults.fail({ code, count: Number(b), ...(c !== '-' ? { op: c } : {}) });
      return;
    }
    case 'reach': {
      // The parent asks when a vend the kill left is still open: was its machine readable at all?
      const r = await d.machines.readNow(a);
      return say(`reach ${a} ${r.ok ? (r.state.status === 'offline' ? 'offline' : 'ok') : 'unreadable'}`);
    }
    case 'ro':
      faults.failAll('SQLITE_READONLY');
      await new Promise((r) => setTimeout(r, Number(a)));
      faults.clear();
      return;
    default:
      throw new Error(`unknown operation: ${line}`);
  }
}

let rx = '';
let started: Promise<void> | null = null;
process.stdin.setEncoding('utf8').on('data', (s: string) => {
  rx += s;
  let nl: number;
  while ((nl = rx.indexOf('\n')) >= 0) {
    const line = rx.slice(0, nl);
    rx = rx.slice(nl + 1);
    const go = /^go (\d+)$/.exec(line);
    if (go) {
      started = start(Number(go[1]));
      continue;
    }
    // Operations run side by side, as customers, the app and the operator do.
    const d = daemon;
    if (d === null) continue;
    void handle(d, line).catch((e: unknown) => {
      process.stderr.write(`operation "${line}" threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      say(`threw ${line.split(' ')[0] ?? '?'}`);
    });
  }
});

async function start(port: number): Promise<void> {
  const config = gatewayConfigSchema.parse({
    ...testConfig({ port, dbPath: opts.dbPath, pollIntervalMs: 50, qrPublicKey: opts.qrPublicKey }),
    faultRefund: { mode: 'prorated', withinShare: 0.9 },
    mqtt: childMqttConfig(opts.mqttUrl, opts.configPublicKey),
  });
  const level = process.env.SEAMS_CHILD_LOG;
  // The engine retries (and probes a failed ledger) every 300 ms instead of 5 s, so the room heals
  // from one injected fault in time to meet the next operations instead of declining them all.
  const d = new Daemon(config, { logger: level ? createLogger({ level, destination: 2 }) : silentLogger(), clock: systemClock, ledgerWriteFaults: faults, options: { engine: { reconcileEveryMs: 300 } } });
  await d.start();
  daemon = d;
  setInterval(() => say(`inj ${faults.injected}`), 100).unref();
  say(`ready ${d.engine.blockedMachines().join(',')}`);
}

// Keeps the process alive and surfaces a failed start to the parent.
await new Promise<void>((resolve) => {
  const t = setInterval(() => {
    if (started === null) return;
    clearInterval(t);
    started.then(resolve, (e: unknown) => {
      process.stderr.write(`start failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(3);
    });
  }, 5);
});
await new Promise(() => undefined);
