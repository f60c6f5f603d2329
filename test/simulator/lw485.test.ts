import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lw485, Lw485Command as C, Lw485Result as R, Lw485State as S, type Lw485Options } from '../../simulator/lw485.js';
import { SimActionError } from '../../simulator/errors.js';
import type { ModbusReply } from '../../protocols/modbus/pdu.js';

const washerOpts: Lw485Options = { kind: 'washer', serial: 0x01020304, loadCell: true, hardnessSensor: true, hardnessDh10: 123, cycleCounter: 41 };
const dryerOpts: Lw485Options = { kind: 'dryer', serial: 77 };
const washer = (extra: Partial<Lw485Options> = {}): Lw485 => new Lw485({ ...washerOpts, ...extra });
const dryer = (): Lw485 => new Lw485(dryerOpts);

function regs(r: ModbusReply): number[] {
  assert.equal(r.kind, 'registers', JSON.stringify(r));
  return r.kind === 'registers' ? r.registers : [];
}
const inputs = (d: Lw485): number[] => regs(d.handle({ fc: 4, address: 0, quantity: 32 }));
const state = (d: Lw485): number => inputs(d)[16] ?? -1;

let nextSeq = 1;
/** Sends a command block and returns the result code shown in input 25. */
function cmd(d: Lw485, code: number, program = 0, amount = 0, minutes = 0): number {
  const seq = nextSeq++;
  const r = d.handle({ fc: 16, address: 256, values: [seq, code, program, amount, minutes] });
  assert.deepEqual(r, { kind: 'registers-written', fc: 16, address: 256, quantity: 5 });
  const i = inputs(d);
  assert.equal(i[24], seq);
  return i[25] ?? -1;
}

const credited = (d = washer(), program = 2, amount = 350): Lw485 => {
  assert.equal(cmd(d, C.Credit, program, amount, d.kind === 'dryer' ? 30 : 0), R.Accepted);
  return d;
};
const running = (d = washer()): Lw485 => {
  credited(d);
  assert.equal(cmd(d, C.Start), R.Accepted);
  return d;
};

test('identity and sensor registers', () => {
  const w = inputs(washer());
  assert.deepEqual(w.slice(0, 6), [0x5701, 0x0103, 0x0102, 0x0304, 80, 6]);
  assert.deepEqual(w.slice(6, 16), new Array(10).fill(0));
  assert.deepEqual(w.slice(26, 32), [0, 41, 0, 123, 0, 0]);
  const d = inputs(dryer());
  assert.deepEqual(d.slice(0, 6), [0x4401, 0x0103, 0, 77, 100, 4]);
  assert.equal(d[28], 0, 'no load cell');
  assert.equal(d[29], 65535, 'dryers never report hardness');
  assert.equal(inputs(new Lw485({ kind: 'washer', serial: 1 }))[29], 65535, 'no hardness sensor fitted');
  const l = washer();
  l.setLoad(5430);
  assert.equal(inputs(l)[28], 543);
  assert.throws(() => dryer().setLoad(10), SimActionError);
});

test('status block is one 14-register read of 16..29; reads outside 0..31 are exception 02', () => {
  const d = washer();
  assert.equal(regs(d.handle({ fc: 4, address: 16, quantity: 14 })).length, 14);
  assert.deepEqual(regs(d.handle({ fc: 4, address: 30, quantity: 2 })), [0, 0]);
  assert.deepEqual(d.handle({ fc: 4, address: 31, quantity: 2 }), { kind: 'exception', fc: 4, code: 2 });
  assert.deepEqual(d.handle({ fc: 4, address: 100, quantity: 1 }), { kind: 'exception', fc: 4, code: 2 });
  assert.deepEqual(d.handle({ fc: 4, address: 0, quantity: 0 }), { kind: 'exception', fc: 4, code: 3 });
  assert.deepEqual(d.handle({ fc: 3, address: 256, quantity: 126 }), { kind: 'exception', fc: 3, code: 3 });
});

test('function codes other than 03 04 06 16 are exception 01', () => {
  const d = washer();
  assert.deepEqual(d.handle({ fc: 1, address: 0, quantity: 1 }), { kind: 'exception', fc: 1, code: 1 });
  assert.deepEqual(d.handle({ fc: 2, address: 0, quantity: 1 }), { kind: 'exception', fc: 2, code: 1 });
  assert.deepEqual(d.handle({ fc: 5, address: 0, value: true }), { kind: 'exception', fc: 5, code: 1 });
});

test('program tables match the factory programs of the spec', () => {
  const w = regs(washer().handle({ fc: 3, address: 512, quantity: 48 }));
  const name = (r: number[]): string => r.map((x) => String.fromCharCode(x >> 8, x & 0xff)).join('');
  const expected: Array<[number, number, number, number, string]> = [
    [30, 30, 100, 250, 'QUICK   '],
    [45, 40, 120, 350, 'NORMAL  '],
    [60, 60, 120, 450, 'HOT     '],
    [75, 40, 140, 500, 'HEAVY   '],
    [40, 30, 60, 350, 'DELICATE'],
    [20, 0, 100, 150, 'RINSE   '],
  ];
  expected.forEach(([dur, temp, spin, price, n], i) => {
    const e = w.slice(8 * i, 8 * i + 8);
    assert.deepEqual(e.slice(0, 4), [dur, temp, spin, price]);
    assert.equal(name(e.slice(4)), n);
  });
  const d = regs(dryer().handle({ fc: 3, address: 512, quantity: 32 }));
  ['LOW     ', 'MEDIUM  ', 'HIGH    ', 'NOHEAT  '].forEach((n, i) => {
    assert.deepEqual(d.slice(8 * i, 8 * i + 4), [10, [1, 2, 3, 0][i], 0, 100]);
    assert.equal(name(d.slice(8 * i + 4, 8 * i + 8)), n);
  });
  assert.deepEqual(washer().handle({ fc: 3, address: 512 + 48, quantity: 1 }), { kind: 'exception', fc: 3, code: 2 }, 'beyond program 6');
  assert.deepEqual(dryer().handle({ fc: 3, address: 540, quantity: 8 }), { kind: 'exception', fc: 3, code: 2 });
  assert.deepEqual(washer().handle({ fc: 6, address: 512, value: 1 }), { kind: 'exception', fc: 6, code: 2 });
  assert.deepEqual(washer().handle({ fc: 16, address: 512, values: [1, 2] }), { kind: 'exception', fc: 16, code: 2 });
  assert.deepEqual(washer().handle({ fc: 3, address: 255, quantity: 2 }), { kind: 'exception', fc: 3, code: 2 });
  assert.deepEqual(washer().handle({ fc: 16, address: 258, values: [1, 2, 3, 4] }), { kind: 'exception', fc: 16, code: 2 });
});

test('seq: same seq is acknowledged and changes nothing; seq 0 never executes; fc06 only stages', () => {
  const d = washer();
  const block = { fc: 16 as const, address: 256, values: [500, C.Credit, 1, 250, 0] };
  d.handle(block);
  assert.deepEqual(inputs(d).slice(23, 26), [250, 500, R.Accepted]);
  d.handle({ fc: 16, address: 256, values: [500, C.Cancel, 0, 0, 0] });
  assert.equal(state(d), S.Credited, 'same seq with another command: no effect');
  assert.deepEqual(inputs(d).slice(23, 26), [250, 500, R.Accepted]);
  d.handle({ fc: 16, address: 256, values: [0, C.Cancel, 0, 0, 0] });
  assert.equal(state(d), S.Credited, 'seq 0 never executes');
  assert.equal(inputs(d)[24], 500);
  for (const [i, v] of [501, C.Cancel, 0, 0, 0].entries()) {
    assert.deepEqual(d.handle({ fc: 6, address: 256 + i, value: v }), { kind: 'register-written', fc: 6, address: 256 + i, value: v });
  }
  assert.equal(state(d), S.Credited, 'fc06 stages only');
  assert.deepEqual(regs(d.handle({ fc: 3, address: 256, quantity: 5 })), [501, C.Cancel, 0, 0, 0], 'staged values read back');
  d.handle({ fc: 16, address: 257, values: [C.Cancel, 0, 0, 0] });
  assert.equal(state(d), S.Credited, 'a partial block only stages');
  d.handle({ fc: 16, address: 256, values: [501, C.Cancel, 0, 0, 0] });
  assert.equal(state(d), S.Idle);
  assert.deepEqual(inputs(d).slice(23, 26), [0, 501, R.Accepted]);
});

test('the result shows after the result delay, never before; a repeat while pending is a no-op', () => {
  const d = new Lw485({ ...washerOpts, resultDelayMs: 150 });
  d.handle({ fc: 16, address: 256, values: [9, C.Credit, 1, 250, 0] });
  assert.deepEqual(inputs(d).slice(16, 17).concat(inputs(d).slice(24, 26)), [S.Idle, 0, 0]);
  d.handle({ fc: 16, address: 256, values: [9, C.Credit, 1, 250, 0] });
  d.advance(149);
  assert.equal(inputs(d)[24], 0);
  d.advance(1);
  assert.deepEqual(inputs(d).slice(23, 26), [250, 9, R.Accepted]);
  assert.equal(state(d), S.Credited);
  // A new seq while one is pending: the pending one executes first.
  d.handle({ fc: 16, address: 256, values: [10, C.Start, 0, 0, 0] });
  d.handle({ fc: 16, address: 256, values: [11, C.Pause, 0, 0, 0] });
  assert.equal(inputs(d)[24], 10);
  d.advance(200);
  assert.deepEqual([state(d), inputs(d)[24], inputs(d)[25]], [S.Paused, 11, R.Accepted]);
});

test('EEPROM busy: command writes get exception 06 until it is over, reads still answer', () => {
  const d = washer();
  d.eepromBusy(100);
  assert.deepEqual(d.handle({ fc: 16, address: 256, values: [1, C.Credit, 1, 250, 0] }), { kind: 'exception', fc: 16, code: 6 });
  assert.equal(regs(d.handle({ fc: 4, address: 16, quantity: 14 }))[0], S.Idle);
  d.advance(100);
  assert.equal(d.handle({ fc: 16, address: 256, values: [1, C.Credit, 1, 250, 0] }).kind, 'registers-written');
});

test('with an EEPROM write time, each accepted command makes the next write busy for a while', () => {
  const d = new Lw485({ ...washerOpts, eepromWriteMs: 100 });
  d.handle({ fc: 16, address: 256, values: [1, C.Credit, 1, 250, 0] });
  assert.deepEqual(d.handle({ fc: 16, address: 256, values: [2, C.Start, 0, 0, 0] }), { kind: 'exception', fc: 16, code: 6 });
  assert.equal(state(d), S.Credited);
  d.advance(100);
  assert.equal(d.handle({ fc: 16, address: 256, values: [2, C.Start, 0, 0, 0] }).kind, 'registers-written');
  assert.equal(state(d), S.Running);
});

test('CREDIT: allowed in IDLE and DONE; every rejection code', () => {
  const d = washer();
  assert.equal(cmd(d, C.Credit, 7, 350), R.UnknownProgram);
  assert.equal(cmd(d, C.Credit, 0, 350), R.UnknownProgram);
  assert.equal(cmd(d, C.Credit, 2, 0), R.BadArgument, 'amount 0');
  assert.equal(cmd(d, C.Credit, 2, 350, 10), R.BadArgument, 'minutes on a washer');
  assert.equal(state(d), S.Idle);
  assert.equal(cmd(d, C.Credit, 2, 350), R.Accepted);
  assert.deepEqual(inputs(d).slice(16, 24), [S.Credited, 0, 0, 2, 2, 1, 0, 350]);
  assert.equal(cmd(d, C.Credit, 2, 350), R.Busy);
  assert.equal(cmd(d, C.Start), R.Accepted);
  assert.equal(cmd(d, C.Credit, 2, 350), R.Busy, 'running');
  assert.equal(cmd(d, C.Pause), R.Accepted);
  assert.equal(cmd(d, C.Credit, 2, 350), R.Busy, 'paused');
  assert.equal(cmd(d, C.Resume), R.Accepted);
  d.advance(45 * 60_000);
  assert.equal(state(d), S.Done);
  assert.equal(cmd(d, C.Credit, 1, 250), R.Accepted, 'DONE accepts a credit');
  const dr = dryer();
  assert.equal(cmd(dr, C.Credit, 1, 300, 0), R.BadArgument, 'no minutes on a dryer');
  assert.equal(cmd(dr, C.Credit, 5, 300, 30), R.UnknownProgram);
  assert.equal(cmd(dr, C.Credit, 3, 300, 30), R.Accepted);
  const sv = washer();
  assert.equal(cmd(sv, C.ServiceOn), R.Accepted);
  assert.equal(cmd(sv, C.Credit, 1, 250), R.NotAllowed, 'SERVICE accepts no CREDIT');
  const f = washer();
  f.injectFault(1);
  assert.equal(cmd(f, C.Credit, 1, 250), R.Fault);
  assert.equal(cmd(washer(), 0), R.BadArgument, 'unknown command 0');
  assert.equal(cmd(washer(), 10), R.BadArgument, 'unknown command 10');
});

test('every command in every state gets the documented result', () => {
  // Each state built fresh; [state, command] → result. Accepted transitions checked separately.
  const make: Record<string, () => Lw485> = {
    IDLE: () => washer(),
    CREDITED: () => credited(),
    RUNNING: () => running(),
    PAUSED: () => {
      const d = running();
      cmd(d, C.Pause);
      return d;
    },
    DONE: () => {
      const d = running();
      d.advance(3_600_000);
      return d;
    },
    FAULT: () => {
      const d = running();
      d.injectFault(6);
      return d;
    },
    SERVICE: () => {
      const d = washer();
      cmd(d, C.ServiceOn);
      return d;
    },
  };
  const A = R.Accepted;
  const expected: Record<string, number[]> = {
    //          PAUSE RESUME CANCEL ADD_TIME(washer) START CLEAR_FAULT SVC_ON SVC_OFF
    IDLE: [R.NotAllowed, R.NotAllowed, R.NotAllowed, R.BadArgument, R.NotAllowed, R.NotAllowed, A, R.NotAllowed],
    CREDITED: [R.NotAllowed, R.NotAllowed, A, R.BadArgument, A, R.NotAllowed, R.Busy, R.NotAllowed],
    RUNNING: [A, R.NotAllowed, R.NotAllowed, R.BadArgument, R.Busy, R.NotAllowed, R.Busy, R.NotAllowed],
    PAUSED: [R.NotAllowed, A, R.NotAllowed, R.BadArgument, R.Busy, R.NotAllowed, R.Busy, R.NotAllowed],
    DONE: [R.NotAllowed, R.NotAllowed, R.NotAllowed, R.BadArgument, R.NotAllowed, R.NotAllowed, R.NotAllowed, R.NotAllowed],
    FAULT: [R.Fault, R.Fault, R.Fault, R.BadArgument, R.Fault, R.Fault, R.Fault, R.Fault],
    SERVICE: [R.NotAllowed, R.NotAllowed, R.NotAllowed, R.BadArgument, R.NotAllowed, R.NotAllowed, R.NotAllowed, A],
  };
  const codes = [C.Pause, C.Resume, C.Cancel, C.AddTime, C.Start, C.ClearFault, C.ServiceOn, C.ServiceOff];
  for (const [name, results] of Object.entries(expected)) {
    codes.forEach((code, i) => {
      const d = make[name]?.();
      assert.ok(d);
      assert.equal(cmd(d, code, 0, 100, code === C.AddTime ? 10 : 0), results[i], `${name} × command ${code}`);
    });
  }
});

test('Start: counter + 1, credit → 0, door locks, remaining counts down through the phases to DONE', () => {
  const d = credited(washer(), 1, 250);
  d.setDoor(true);
  assert.equal(cmd(d, C.Start), R.DoorOpen);
  assert.throws(() => d.pressStart(), SimActionError, 'panel Start does nothing with the door open');
  d.setDoor(false);
  d.pressStart();
  let i = inputs(d);
  assert.deepEqual([i[16], i[17], i[18], i[19], i[21], i[23], i[27]], [S.Running, 1, 1800, 1, 3, 0, 42]);
  assert.throws(() => d.setDoor(true), SimActionError, 'locked');
  const phases = new Set<number>();
  for (let t = 0; t < 30; t++) {
    d.advance(60_000);
    phases.add(inputs(d)[17] ?? -1);
  }
  assert.deepEqual([...phases], [1, 2, 5, 3, 4, 0]);
  i = inputs(d);
  assert.deepEqual([i[16], i[17], i[18], i[19], i[21]], [S.Done, 0, 0, 0, 1]);
  d.setDoor(true);
  assert.equal(state(d), S.Idle, 'DONE → IDLE when the door opens');
});

test('PAUSE freezes the remaining time; RESUME continues it', () => {
  const d = running();
  d.advance(10_000);
  assert.equal(cmd(d, C.Pause), R.Accepted);
  const left = inputs(d)[18];
  d.advance(600_000);
  assert.equal(inputs(d)[18], left);
  assert.equal(inputs(d)[21], 3, 'door stays locked while paused');
  assert.equal(cmd(d, C.Resume), R.Accepted);
  d.advance(10_000);
  assert.equal(inputs(d)[18], (left ?? 0) - 10);
});

test('CANCEL drops the credit without giving anything back', () => {
  const d = credited();
  assert.equal(cmd(d, C.Cancel), R.Accepted);
  assert.deepEqual(inputs(d).slice(16, 24), [S.Idle, 0, 0, 0, 2, 1, 0, 0]);
});

test('dryer: minutes bought, ADD_TIME while running or paused, keeps running until 0, anti-crease after', () => {
  const d = dryer();
  assert.equal(cmd(d, C.Credit, 3, 200, 20), R.Accepted);
  assert.equal(cmd(d, C.AddTime, 0, 100, 10), R.NotAllowed, 'not in CREDITED');
  assert.equal(cmd(d, C.Start), R.Accepted);
  assert.deepEqual(inputs(d).slice(16, 20), [S.Running, 11, 1200, 3]);
  assert.equal(cmd(d, C.AddTime, 0, 100, 0), R.BadArgument, 'no minutes');
  assert.equal(cmd(d, C.AddTime, 0, 100, 10), R.Accepted);
  assert.equal(inputs(d)[18], 1800);
  assert.equal(cmd(d, C.Pause), R.Accepted);
  assert.equal(cmd(d, C.AddTime, 0, 100, 10), R.Accepted);
  assert.equal(inputs(d)[18], 2400);
  assert.equal(cmd(d, C.AddTime, 0, 0, 1200), R.BadArgument, 'would overflow input 18');
  assert.equal(cmd(d, C.Resume), R.Accepted);
  d.advance(2400_000 - 120_000);
  assert.deepEqual(inputs(d).slice(16, 19), [S.Running, 12, 120], 'cool-down at the end');
  d.advance(120_000);
  assert.deepEqual(inputs(d).slice(16, 19), [S.Done, 13, 0], 'anti-crease while the door stays shut');
  assert.equal(d.snapshot().cycleCounter, 1);
  d.advance(600_000);
  assert.equal(inputs(d)[17], 0);
});

test('dryer ADD_TIME outside RUNNING/PAUSED: 7, in FAULT: 4', () => {
  const idle = dryer();
  assert.equal(cmd(idle, C.AddTime, 0, 100, 10), R.NotAllowed);
  const svc = dryer();
  cmd(svc, C.ServiceOn);
  assert.equal(cmd(svc, C.AddTime, 0, 100, 10), R.NotAllowed);
  const f = dryer();
  cmd(f, C.Credit, 1, 100, 10);
  cmd(f, C.Start);
  f.injectFault(8);
  assert.equal(cmd(f, C.AddTime, 0, 100, 10), R.Fault);
  f.resolveFaultCondition();
  assert.equal(cmd(f, C.ClearFault), R.Accepted);
  const done = dryer();
  cmd(done, C.Credit, 1, 100, 10);
  cmd(done, C.Start);
  done.advance(600_000);
  assert.equal(state(done), S.Done);
  assert.equal(cmd(done, C.AddTime, 0, 100, 10), R.NotAllowed, 'a finished cycle cannot be extended');
});

test('fault while running: remaining frozen, program kept; CLEAR_FAULT rejected while the condition lasts, then → IDLE', () => {
  const d = running();
  d.advance(60_000);
  d.injectFault(2);
  const i = inputs(d);
  assert.deepEqual([i[16], i[18], i[19], i[22]], [S.Fault, 2640, 2, 2]);
  d.advance(600_000);
  assert.equal(inputs(d)[18], 2640, 'frozen');
  assert.equal(cmd(d, C.ClearFault), R.Fault);
  d.resolveFaultCondition();
  assert.equal(state(d), S.Fault, 'the fault stays until cleared');
  assert.equal(cmd(d, C.ClearFault), R.Accepted);
  assert.deepEqual(inputs(d).slice(16, 24), [S.Idle, 0, 0, 0, 2, 1, 0, 0], 'the interrupted cycle is lost');
});

test('self-test fault in CREDITED keeps the credit; CLEAR_FAULT → CREDITED; in IDLE → IDLE', () => {
  const d = credited(washer(), 3, 450);
  d.injectFault(5);
  assert.deepEqual(inputs(d).slice(16, 24), [S.Fault, 0, 0, 3, 3, 1, 5, 450]);
  d.resolveFaultCondition();
  assert.equal(cmd(d, C.ClearFault), R.Accepted);
  assert.deepEqual(inputs(d).slice(16, 24), [S.Credited, 0, 0, 3, 3, 1, 0, 450]);
  const idle = washer();
  idle.injectFault(1);
  idle.resolveFaultCondition();
  assert.equal(cmd(idle, C.ClearFault), R.Accepted);
  assert.equal(state(idle), S.Idle);
  assert.throws(() => washer().injectFault(7), SimActionError, 'E07 is a dryer fault');
  assert.throws(() => dryer().injectFault(4), SimActionError, 'E04 is a washer fault');
  const svc = washer();
  cmd(svc, C.ServiceOn);
  assert.throws(() => svc.injectFault(1), SimActionError);
});

test('power cut: JSON round trip keeps a running cycle, the credit, last seq and the counter', () => {
  const d = running();
  d.advance(100_000);
  const cr = credited(washer(), 4, 500);
  const saved = JSON.parse(JSON.stringify(d.toJSON()));
  const back = new Lw485(washerOpts, saved);
  assert.deepEqual(inputs(back), inputs(d));
  back.advance(45 * 60_000);
  assert.equal(state(back), S.Done, 'the running cycle resumes and finishes');
  const cr2 = new Lw485(washerOpts, JSON.parse(JSON.stringify(cr.toJSON())));
  assert.deepEqual(inputs(cr2).slice(16, 26), inputs(cr).slice(16, 26));
  assert.equal(inputs(cr2)[23], 500);
});

test('the panel: select a program, Start does nothing without credit', () => {
  const d = washer();
  d.selectProgram(4);
  assert.equal(inputs(d)[20], 4);
  assert.throws(() => d.pressStart(), SimActionError);
  assert.throws(() => d.selectProgram(7), SimActionError);
  assert.equal(state(d), S.Idle);
});
