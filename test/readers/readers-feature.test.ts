// The feature as the composition root uses it: several readers, one emitter, and logs that
// never carry a full card UID or a token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../gateway/core/log.js';
import { readersConfigSchema } from '../../gateway/readers/config-schema.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { Readers } from '../../gateway/readers/readers.js';
import type { ScanEvent, SwipeEvent } from '../../gateway/readers/serial-reader.js';
import { openPtyPair } from '../helpers/pty.js';
import { waitFor } from './harness.js';

test('Readers: events from every reader on one emitter; a missing reader does not hold up the others; logs mask UIDs and never carry tokens', async () => {
  const card = await openPtyPair();
  const qr = await openPtyPair();
  await qr.unplug();
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString('utf8');
      cb();
    },
  });
  const configs = readersConfigSchema.parse([
    { id: 'W1-card', type: 'line', path: card.a, attachedTo: { machineId: 'W1' }, pollMs: 50, reopenMinMs: 50 },
    { id: 'kiosk-qr', type: 'qr', path: qr.a, attachedTo: 'kiosk', pollMs: 50, reopenMinMs: 50 },
  ]);
  const readers = new Readers(configs, { logger: createLogger({ level: 'debug', destination: sink }) });
  const swipes: SwipeEvent[] = [];
  const scans: ScanEvent[] = [];
  readers.on('swipe', (e) => swipes.push(e));
  readers.on('scan', (e) => scans.push(e));
  const cardEmu = new ReaderEmulator({ path: card.b, type: 'line' });
  const qrEmu = new ReaderEmulator({ path: qr.b, type: 'qr' });
  const uid = '04A2B9C1D25E80';
  const token = 'LW1:NCFOXN%TSMAHN-HKTGX94G5';
  try {
    await readers.start();
    assert.deepEqual(readers.stats().map((s) => [s.readerId, s.state]), [['W1-card', 'up'], ['kiosk-qr', 'down']]);
    await cardEmu.open();
    await cardEmu.swipe(uid, 0);
    await cardEmu.writeRaw(`${uid}XX\r\n`); // noise that contains the UID
    await waitFor(() => swipes.length === 1 && (readers.get('W1-card')?.stats().noise['bad-char'] ?? 0) === 1, 'swipe and noise');
    assert.deepEqual(swipes[0]?.attachedTo, { machineId: 'W1' });

    await qr.replug();
    await waitFor(() => readers.get('kiosk-qr')?.state === 'up', 'the scanner appears');
    await qrEmu.open();
    await qrEmu.scan(token, 0);
    await waitFor(() => scans.length === 1, 'a scan');
    assert.equal(scans[0]?.text, token);

    assert.ok(logText.includes('card presented'));
    assert.ok(logText.includes('5E80'), 'the masked UID is logged');
    assert.ok(!logText.includes(uid), 'the full UID is never logged');
    assert.ok(!logText.includes(token.slice(4)), 'the token is never logged');
    assert.ok(logText.includes('reader noise dropped'));
  } finally {
    await readers.stop();
    await cardEmu.close();
    await qrEmu.close();
    await card.close();
    await qr.close();
  }
});
