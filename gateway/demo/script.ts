// The demo's customer: a fixed story first (every path of a vend once), then a steady trickle of
// swipes, with doors opened when cycles finish. Also the demo's typed commands.
import type { SimRoom } from '../../simulator/index.js';
import type { CloudConsumer } from '../../simulator/cloud/consumer.js';
import type { Logger } from '../core/log.js';
import type { Daemon } from '../daemon.js';
import type { VendOutcome } from '../engine/vend-engine.js';
import { DEMO_CARDS, DEMO_ROOM_ID } from './room.js';
import { DEMO_SECURE_CARD, type DemoSecureReader } from './secure-reader.js';

export function unitOf(machineId: string): { unit: number; channel?: number } | null {
  const m = /^([WDC])(\d+)$/.exec(machineId);
  if (!m?.[1] || !m[2]) return null;
  const n = Number(m[2]);
  if (m[1] === 'W' && n >= 1 && n <= 8) return { unit: n };
  if (m[1] === 'D' && n >= 1 && n <= 4) return { unit: 8 + n };
  if (m[1] === 'C' && n >= 1 && n <= 4) return { unit: 20, channel: n - 1 };
  return null;
}

const HELP = `commands:
  swipe <machine> [alice|bob|carol]   present a card at the machine's reader (e.g. swipe W3 alice)
  qr <machine> [cents]                mint an app token for the machine and scan it at the kiosk
  start <machine>                     press Start on the machine's panel
  door <machine> open|close           open or close the door
  select <machine> <program>          choose a program on the panel
  fault <machine> <code>              raise a fault (1-8) on an LW-485 machine
  tap                                 dave taps his secure card at the type S reader on W6
  replay                              the last secure message sent again (declined: replayed)
  copy                                a copy of dave's card (its UID only) at that reader (declined: clone_suspected)
  balances                            show the demo accounts' balances
  machines                            show every machine's state`;

interface Deps {
  daemon: Daemon;
  room: SimRoom;
  logger: Logger;
  mint: (machineId: string, amountCents: number) => string;
  cloud: CloudConsumer;
  /** Dave's secure card and its type S reader at W6; null without socat. */
  secureReader: DemoSecureReader | null;
}

export class DemoScript {
  private timer: NodeJS.Timeout | null = null;
  private step = 0;
  private lastToken: string | null = null;
  private readonly log: Logger;

  constructor(private readonly d: Deps) {
    this.log = d.logger.child({ component: 'demo' });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), 4000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private cardOf(name: string | undefined): string {
    const c = DEMO_CARDS.find((x) => x.accountId === `acct-${name ?? 'alice'}`) ?? DEMO_CARDS[0];
    return c.uid;
  }

  private swipe(machineId: string, who: string): Promise<VendOutcome> {
    this.log.info({ machineId, who }, `demo: ${who} swipes a card at ${machineId}`);
    return this.d.daemon.engine.cardSwipe({ readerId: `reader-${machineId}`, uid: this.cardOf(who), machineId });
  }

  private pressStartSoon(machineId: string, o: VendOutcome): void {
    const u = unitOf(machineId);
    if (o.result !== 'captured' || u === null) return;
    setTimeout(() => {
      try {
        this.d.room.control.pressStart(u.unit, u.channel);
        this.log.info({ machineId }, `demo: Start pressed on ${machineId}`);
      } catch (e) {
        this.log.warn({ machineId, err: e instanceof Error ? e.message : String(e) }, 'demo: Start did nothing');
      }
    }, 1500);
  }

  private async story(): Promise<boolean> {
    const c = this.d.room.control;
    switch (this.step++) {
      case 0:
        c.selectProgram(1, 2);
        this.log.info({ machineId: 'W1' }, 'demo: alice picks NORMAL (program 2) on W1');
        c.selectProgram(9, 2);
        return true;
      case 1:
        this.pressStartSoon('W1', await this.swipe('W1', 'alice'));
        return true;
      case 2:
        this.pressStartSoon('D1', await this.swipe('D1', 'bob'));
        return true;
      case 3: {
        this.lastToken = this.d.mint('W2', 400);
        this.log.info({ machineId: 'W2' }, 'demo: an app user scans a QR token (paid 400 ¢ online) at the kiosk');
        this.pressStartSoon('W2', await this.d.daemon.scan({ readerId: 'kiosk-qr', text: this.lastToken, machineId: null }));
        return true;
      }
      case 4:
        if (this.lastToken) {
          this.log.info({ machineId: 'W2' }, 'demo: the same QR token is scanned again');
          await this.d.daemon.scan({ readerId: 'kiosk-qr', text: this.lastToken, machineId: null });
        }
        return true;
      case 5:
        await this.swipe('W3', 'bob');
        return true;
      case 6:
        this.pressStartSoon('C1', await this.swipe('C1', 'carol'));
        return true;
      case 7:
        // The machine faults between the last poll and the credit: it refuses, the hold is refunded.
        c.injectFault(8, 1);
        this.log.info({ machineId: 'W8' }, 'demo: W8 faults (E01 no water) just as carol pays');
        await this.swipe('W8', 'carol');
        return true;
      case 8:
        this.log.info({ accountId: 'acct-bob', amountCents: 1000 }, 'demo: bob tops up 10.00 in the app; the cloud sends it down');
        await this.d.cloud.publishTopUps(DEMO_ROOM_ID, [{ cloudId: `topup-bob-${Date.now()}`, accountId: 'acct-bob', amountCents: 1000, accountVersion: (this.d.daemon.ledger.balance('acct-bob')?.snapshotVersion ?? 0) + 1 }]);
        return true;
      case 9: {
        // Paid at the machine, started from the phone: the app's remote start.
        const o = await this.swipe('W4', 'bob');
        if (o.result === 'captured') {
          const now = Math.floor(Date.now() / 1000);
          this.log.info({ machineId: 'W4' }, 'demo: bob presses Start in the app; the cloud sends a signed remote start');
          await this.d.cloud.publishCommand(DEMO_ROOM_ID, { id: `cmd-${Date.now()}`, machineId: 'W4', kind: 'start', issuedAtSec: now, expiresAtSec: now + 120 });
        }
        return true;
      }
      case 10:
        if (this.d.secureReader) {
          this.log.info({ machineId: DEMO_SECURE_CARD.machineId }, 'demo: dave taps his secure card (NTAG 424 DNA) at the type S reader');
          await this.d.secureReader.tap();
          setTimeout(() => {
            this.d.room.control.pressStart(6);
            this.log.info({ machineId: DEMO_SECURE_CARD.machineId }, `demo: Start pressed on ${DEMO_SECURE_CARD.machineId}`);
          }, 3000);
        }
        return true;
      case 11:
        if (this.d.secureReader) {
          this.log.info({ machineId: DEMO_SECURE_CARD.machineId }, 'demo: someone sends the message dave\'s card just made again');
          await this.d.secureReader.replay();
        }
        return true;
      case 12:
        if (this.d.secureReader) {
          this.log.info({ machineId: DEMO_SECURE_CARD.machineId }, 'demo: a blank card with a copy of dave\'s UID is presented');
          await this.d.secureReader.copy();
        }
        return true;
      default:
        return false;
    }
  }

  private async tick(): Promise<void> {
    try {
      this.openFinishedDoors();
      if (await this.story()) return;
      const idle = this.d.daemon.machines.machineIds().filter((id) => this.d.daemon.machines.state(id)?.status === 'idle' && id !== 'W8' && id !== DEMO_SECURE_CARD.machineId);
      const pick = idle[Math.floor(Math.random() * idle.length)];
      if (pick === undefined || Math.random() < 0.5) return;
      const carol = this.d.daemon.ledger.balance('acct-carol');
      if (carol && carol.balanceCents < 1000) {
        this.d.daemon.ledger.applyTopUp({ cloudId: `demo-topup-${Date.now()}`, accountId: 'acct-carol', amountCents: 5000, accountVersion: carol.snapshotVersion + 1 });
        this.log.info({ accountId: 'acct-carol', amountCents: 5000 }, 'demo: carol tops up in the app');
      }
      this.pressStartSoon(pick, await this.swipe(pick, 'carol'));
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'demo step failed');
    }
  }

  private openFinishedDoors(): void {
    for (const id of this.d.daemon.machines.machineIds()) {
      const u = unitOf(id);
      if (u === null || u.channel !== undefined || this.d.daemon.machines.state(id)?.status !== 'done') continue;
      this.d.room.control.setDoor(u.unit, true);
      setTimeout(() => this.d.room.control.setDoor(u.unit, false), 1000);
      this.log.info({ machineId: id }, `demo: laundry taken out of ${id}`);
    }
  }

  async command(line: string): Promise<string | null> {
    const [cmd, a, b] = line.split(/\s+/);
    if (!cmd) return null;
    const c = this.d.room.control;
    const u = a ? unitOf(a) : null;
    try {
      switch (cmd) {
        case 'help':
          return HELP;
        case 'swipe':
          if (!a || !u) return 'usage: swipe <machine> [alice|bob|carol]';
          return JSON.stringify(await this.swipe(a, b ?? 'alice'));
        case 'qr':
          if (!a || !u) return 'usage: qr <machine> [cents]';
          return JSON.stringify(await this.d.daemon.scan({ readerId: 'kiosk-qr', text: this.d.mint(a, Number(b ?? 500)), machineId: null }));
        case 'start':
          if (!u) return 'usage: start <machine>';
          c.pressStart(u.unit, u.channel);
          return 'Start pressed';
        case 'door':
          if (!u) return 'usage: door <machine> open|close';
          c.setDoor(u.unit, b === 'open');
          return `door ${b === 'open' ? 'opened' : 'closed'}`;
        case 'select':
          if (!u) return 'usage: select <machine> <program>';
          c.selectProgram(u.unit, Number(b));
          return 'selected';
        case 'fault':
          if (!u) return 'usage: fault <machine> <code>';
          c.injectFault(u.unit, Number(b ?? 1));
          return 'fault raised';
        case 'tap':
        case 'replay':
        case 'copy': {
          const r = this.d.secureReader;
          if (r === null) return 'no type S reader (socat is not installed)';
          await (cmd === 'tap' ? r.tap() : cmd === 'replay' ? r.replay() : r.copy());
          return `sent to the type S reader at ${DEMO_SECURE_CARD.machineId}`;
        }
        case 'balances':
          return [...DEMO_CARDS, DEMO_SECURE_CARD].map((x) => `${x.accountId}: ${this.d.daemon.ledger.balance(x.accountId)?.balanceCents ?? '?'} ¢`).join('\n');
        case 'machines':
          return this.d.daemon.machines
            .machineIds()
            .map((id) => {
              const s = this.d.daemon.machines.state(id);
              return `${id.padEnd(3)} ${(s?.status ?? '?').padEnd(9)} program=${s?.program ?? '-'} remaining=${s?.remainingSec ?? '-'}s`;
            })
            .join('\n');
        default:
          return `unknown command "${cmd}"; type help`;
      }
    } catch (e) {
      return `error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}
