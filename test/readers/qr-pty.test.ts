// QR scanners over a real pty: the 3 s debounce, the 2048-byte cap, text that is not text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { drained, harness, waitFor } from './harness.js';

const TOKEN = 'LW1:6BFOXN*TS0BI$ZDFRH%08HAPU$FAZ0CH.E5C9%L1';

test('QR: a screen held in front of the scanner is one scan; the same text 3 s later is a new one', async () => {
  const h = await harness('qr', { baudRate: 115200, attachedTo: 'kiosk' });
  try {
    const sent = await h.emu.scan(TOKEN, 1000);
    assert.ok(sent >= 2);
    await drained(h);
    assert.equal(h.scans.length, 1);
    assert.equal(h.scans[0]?.text, TOKEN);
    assert.equal(h.scans[0]?.attachedTo, 'kiosk');
    // A different code is its own scan at once.
    await h.emu.scan('https://example.com/machine/W1', 0);
    await waitFor(() => h.scans.length === 2, 'a second code');
    await sleep(1000);
    await h.emu.scan(TOKEN, 0); // still within 3 s of the last sighting
    await drained(h);
    assert.equal(h.scans.length, 2);
    await sleep(3200);
    await h.emu.scan(TOKEN, 0);
    await waitFor(() => h.scans.length === 3, 'the token scanned again after the window');
    assert.equal(h.scans[2]?.text, TOKEN);
  } finally {
    await h.close();
  }
});

test('QR: 2048 bytes pass, 2049 bytes and non-text are noise', async () => {
  const h = await harness('qr');
  try {
    const max = 'Q'.repeat(2048);
    await h.emu.scan(max, 0);
    await h.emu.writeRaw(`${'R'.repeat(2049)}\r`);
    await h.emu.writeRaw(Buffer.from([0xc3, 0x28, 0x0d])); // invalid UTF-8
    await h.emu.writeRaw('LW1:AB\x00CD\r');
    await h.emu.scan('Grüße, 洗濯機', 0); // any printable UTF-8 passes; the verifier judges it
    await drained(h);
    assert.deepEqual(h.scans.map((s) => s.text), [max, 'Grüße, 洗濯機']);
    const st = h.reader.stats();
    assert.equal(st.noise.oversize, 1);
    assert.equal(st.noise['bad-encoding'], 1);
    assert.equal(st.noise['control-char'], 1);
    assert.ok(st.pendingBytes <= 2048);
  } finally {
    await h.close();
  }
});
