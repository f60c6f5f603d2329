// Shared set-up for the reader tests: a socat pty pair, a SerialReader on one end, a
// ReaderEmulator on the other, and everything the reader emits collected for assertions.
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../gateway/core/log.js';
import { readerConfigSchema, type ReaderConfigInput } from '../../gateway/readers/config-schema.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { SerialReader, type DownEvent, type NoiseEvent, type ScanEvent, type SunTapEvent, type SwipeEvent, type UpEvent } from '../../gateway/readers/serial-reader.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';

export interface Harness {
  pty: PtyPair;
  reader: SerialReader;
  emu: ReaderEmulator;
  swipes: SwipeEvent[];
  scans: ScanEvent[];
  suns: SunTapEvent[];
  noise: NoiseEvent[];
  ups: UpEvent[];
  downs: DownEvent[];
  close(): Promise<void>;
}

export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export async function harness(type: 'line' | 'em4100' | 'qr' | 'sun', over: Partial<ReaderConfigInput> = {}): Promise<Harness> {
  const pty = await openPtyPair();
  const config = readerConfigSchema.parse({
    id: `test-${type}`,
    type,
    path: pty.a,
    attachedTo: { machineId: 'W1' },
    pollMs: 50,
    reopenMinMs: 50,
    reopenMaxMs: 500,
    ...over,
  });
  const reader = new SerialReader(config, { logger: silentLogger() });
  const h: Harness = {
    pty,
    reader,
    emu: new ReaderEmulator({ path: pty.b, type }),
    swipes: [],
    scans: [],
    suns: [],
    noise: [],
    ups: [],
    downs: [],
    close: async () => {
      await reader.stop();
      await h.emu.close();
      await pty.close();
    },
  };
  reader.on('swipe', (e) => h.swipes.push(e));
  reader.on('scan', (e) => h.scans.push(e));
  reader.on('sun', (e) => h.suns.push(e));
  reader.on('noise', (e) => h.noise.push(e));
  reader.on('up', (e) => h.ups.push(e));
  reader.on('down', (e) => h.downs.push(e));
  await reader.start();
  await h.emu.open();
  await waitFor(() => reader.state === 'up', 'reader up');
  return h;
}

/** Waits until the reader has taken in everything the emulator wrote so far. */
export async function drained(h: Harness): Promise<void> {
  const n = h.emu.bytesWritten;
  await waitFor(() => h.reader.stats().bytesIn >= n, `${n} bytes read`);
  // Frames complete on the parser's next tick; give it one timer turn.
  await sleep(20);
}
