// The room side of the power-cut torture (power-cut.ts): the simulated room in its own process,
// with its state file (the units' EEPROM, simulator/state-file.ts), killed with SIGKILL together
// with the gateway and started again from that file, as a room comes back after a power cut.
//   crash-sim-child '<json options>'      (statePath, timeScale, seed)
// Prints "port <n>" once it listens. Its attendant (the room's customers) starts credited
// machines and empties finished ones. On "counts\n" it prints "counts <json>": what the
// machines themselves say they were paid, for the parent's money checks.
import { z } from 'zod';
import { SimRoom } from '../../simulator/index.js';
import { MACHINES, UNITS, startAttendant } from '../engine/harness.js';
import type { CountsJson } from './lib-power.js';

const opts = z.strictObject({ statePath: z.string().min(1), timeScale: z.number().positive() }).parse(JSON.parse(process.argv[2] ?? '{}'));

const room = new SimRoom({ units: UNITS, timeScale: opts.timeScale, replyDelayMs: 2, statePath: opts.statePath });
const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
room.start();
// The module powers up at 60/60 ms pulses; the shortest timing keeps trains short (crash.ts fastPulses).
for (const address of [32, 33]) room.handleRequest(20, { fc: 6, address, value: 20 });
startAttendant(room);
process.stdout.write(`port ${port}\n`);

function counts(): CountsJson {
  const c = room.control;
  const lw: CountsJson['lw'] = {};
  const coins: CountsJson['coins'] = {};
  for (const [id, m] of Object.entries(MACHINES)) {
    if (m.channel === undefined) {
      const s = c.lw485(m.unit);
      lw[id] = { cycles: s.cycleCounter, credited: s.stateName === 'CREDITED' || (s.stateName === 'FAULT' && s.faultFrom === 'credited') };
    } else {
      const machine = c.rio8(m.unit).channels[m.channel]?.machine;
      // Every coin that reached the machine: still held, spent on cycles, or lost while running.
      coins[id] = machine ? machine.coins + machine.cycles * machine.coinsPerCycle + machine.coinsLost : 0;
    }
  }
  return { lw, coins };
}

let rx = '';
process.stdin.setEncoding('utf8').on('data', (s: string) => {
  rx += s;
  let i: number;
  while ((i = rx.indexOf('\n')) >= 0) {
    const line = rx.slice(0, i);
    rx = rx.slice(i + 1);
    if (line === 'counts') process.stdout.write(`counts ${JSON.stringify(counts())}\n`);
  }
});
