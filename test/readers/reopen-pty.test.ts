// The device node vanishes and comes back: 'down', then reopened and reading again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../gateway/core/log.js';
import { readerConfigSchema } from '../../gateway/readers/config-schema.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { SerialReader } from '../../gateway/readers/serial-reader.js';
import { openPtyPair } from '../helpers/pty.js';
import { harness, waitFor } from './harness.js';

test('unplug gives down; replug reopens the reader and it reads again', async () => {
  const h = await harness('line');
  try {
    await h.emu.swipe('11223344', 0);
    await waitFor(() => h.swipes.length === 1, 'a swipe before the unplug');
    await h.emu.close();
    await h.pty.unplug();
    await waitFor(() => h.downs.length === 1, 'down');
    assert.equal(h.reader.state, 'down');
    await h.pty.replug();
    await waitFor(() => h.reader.state === 'up', 'reopened');
    await h.emu.open();
    assert.equal(h.ups.length, 2);
    assert.equal(h.ups[1]?.reopened, true);
    await h.emu.swipe('55667788', 0);
    await waitFor(() => h.swipes.length === 2, 'a swipe after the replug');
    assert.equal(h.swipes[1]?.uid, '55667788');
    const st = h.reader.stats();
    assert.equal(st.reopens, 1);
    assert.equal(st.downs, 1);
    // Unplug again while idle, twice over: it keeps coming back.
    for (let i = 0; i < 2; i++) {
      await h.emu.close();
      await h.pty.unplug();
      await waitFor(() => h.reader.state === 'down', 'down again');
      await h.pty.replug();
      await waitFor(() => h.reader.state === 'up', 'up again');
    }
    assert.equal(h.reader.stats().reopens, 3);
  } finally {
    await h.close();
  }
});

test('a reader absent at start-up is opened when it appears; stop() while down is clean', async () => {
  const pty = await openPtyPair();
  await pty.unplug();
  const config = readerConfigSchema.parse({ id: 'late', type: 'em4100', path: pty.a, attachedTo: 'kiosk', pollMs: 50, reopenMinMs: 50 });
  const reader = new SerialReader(config, { logger: silentLogger() });
  const emu = new ReaderEmulator({ path: pty.b, type: 'em4100' });
  const uids: string[] = [];
  let downs = 0;
  reader.on('swipe', (e) => uids.push(e.uid));
  reader.on('down', () => downs++);
  try {
    await reader.start();
    assert.equal(reader.state, 'down');
    assert.equal(downs, 1);
    await pty.replug();
    await waitFor(() => reader.state === 'up', 'up once the device appears');
    await emu.open();
    await emu.swipe('0A0B0C0D0E', 0);
    await waitFor(() => uids.length === 1, 'a swipe');
    assert.deepEqual(uids, ['0A0B0C0D0E']);
    assert.equal(reader.stats().reopens, 0);
    await emu.close();
    await pty.unplug();
    await waitFor(() => reader.state === 'down', 'down');
  } finally {
    await reader.stop();
    assert.equal(reader.state, 'stopped');
    await emu.close();
    await pty.close();
  }
});
