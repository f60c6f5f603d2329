// A gateway process reduced to its Home Assistant feature, for the last-will test: it announces
// one washer, says "ready" on stdout once connected, and waits to be killed.
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { HomeAssistantBridge, homeAssistantConfigSchema } from '../../gateway/homeassistant/index.js';
import type { MachineState } from '../../gateway/machines/state.js';

const [url, entitiesFile] = process.argv.slice(2);
if (url === undefined || entitiesFile === undefined) throw new Error('usage: bridge-child <broker url> <entities file>');
const idle: MachineState = { machineId: 'W1', kind: 'washer', status: 'idle', program: null, selectedProgram: null, remainingSec: 0, door: { closed: true, locked: false }, faultCode: 0, creditCents: 0, sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm: {}, observedAt: Date.now() };
const bridge = new HomeAssistantBridge({
  config: homeAssistantConfigSchema.parse({ url, keepaliveSec: 5 }),
  room: { id: 'will-room' },
  machines: [{ machineId: 'W1', name: null, profile: 'lw485', kind: 'washer', cycleMinutes: null }],
  subscribeStates: () => () => undefined,
  currentStates: () => [idle],
  entitiesFile,
  logger: silentLogger(),
  clock: systemClock,
});
bridge.start();
const t = setInterval(() => {
  const s = bridge.stats();
  if (s.connected && s.waiting === 0 && s.inFlight === 0) {
    clearInterval(t);
    process.stdout.write('ready\n');
  }
}, 20);
setInterval(() => undefined, 60_000);
