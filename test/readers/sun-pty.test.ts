// Type S over a real pty: SUN lines come out as `sun` events, one per line and never debounced
// (the same text again is a replay for the verifier), UID: lines as swipes, noise counted, the
// 512-byte cap, runaway lines, and unplug/replug.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SUN_READER_MAX_LINE_BYTES } from '../../protocols/readers/sun-reader.js';
import { drained, harness, waitFor } from './harness.js';

const LINE7 = 'https://c.example/t?picc_data=5FEB986817B564116938A91661382957&cmac=037426F11B536BB2';
const LINE8 = 'https://c.example/t?picc_data=E4CC983028D33B7E9121AC29C7CBA519&cmac=E3B106CF4F9D14EF';

test('type S: each SUN line is one tap, the same line twice is two (the verifier declines the second)', async () => {
  const h = await harness('sun');
  try {
    await h.emu.present(LINE7, 1000);
    await h.emu.present(LINE7);
    await h.emu.present(LINE8);
    await waitFor(() => h.suns.length === 3, 'three taps');
    assert.deepEqual(h.suns.map((s) => s.text), [LINE7, LINE7, LINE8]);
    assert.equal(h.suns[0]?.readerId, 'test-sun');
    assert.deepEqual(h.suns[0]?.attachedTo, { machineId: 'W1' });
    assert.equal(h.swipes.length, 0);
    const st = h.reader.stats();
    assert.equal(st.presentations, 3);
    assert.equal(st.repeats, 0);
  } finally {
    await h.close();
  }
});

test('type S: a plain card (UID: line) is a swipe, debounced like type L', async () => {
  const h = await harness('sun');
  try {
    await h.emu.present('UID:04A2B9C1D25E80');
    await h.emu.present('UID:04A2B9C1D25E80');
    await drained(h);
    assert.deepEqual(h.swipes.map((s) => s.uid), ['04A2B9C1D25E80']);
    assert.equal(h.reader.stats().repeats, 1);
    assert.equal(h.suns.length, 0);
  } finally {
    await h.close();
  }
});

test('type S: noise, a line of exactly 512 bytes, a runaway line and a cut frame', async () => {
  const h = await harness('sun');
  try {
    await h.emu.writeRaw('\x00\xff\x13garbage\r\n');
    await h.emu.writeRaw('\r\n');
    await h.emu.writeRaw('hello world\r\n');
    await h.emu.writeRaw('https://example.com/\r\n');
    await h.emu.writeRaw('UID:04a2b9c1d25e80\r\n');
    await drained(h);
    const st = h.reader.stats();
    assert.equal(st.noise['bad-char'], 3);
    assert.equal(st.noise.empty, 1);
    assert.equal(st.noise['not-sun'], 1);
    const longest = `${LINE7}&pad=${'B'.repeat(SUN_READER_MAX_LINE_BYTES - LINE7.length - 5)}`;
    await h.emu.present(longest);
    await h.emu.writeRaw(`${'X'.repeat(10_000)}\r\n`);
    await drained(h);
    assert.ok(h.reader.stats().pendingBytes <= SUN_READER_MAX_LINE_BYTES + 1);
    assert.equal(h.reader.stats().noise.oversize, 1);
    // A tap cut short by a moved cable, then a quiet line: dropped, not glued to the next tap.
    await h.emu.cutFrame(LINE8, 40);
    await drained(h);
    await sleep(300);
    await h.emu.present(LINE8);
    await waitFor(() => h.suns.length === 2, 'the next tap');
    assert.deepEqual(h.suns.map((s) => s.text), [longest, LINE8]);
    assert.equal(h.reader.stats().noise['cut-frame'], 1);
    assert.equal(h.swipes.length, 0);
  } finally {
    await h.close();
  }
});

test('type S: unplug and replug; it reads again, with no half line kept across', async () => {
  const h = await harness('sun');
  try {
    await h.emu.cutFrame(LINE7, 30);
    await drained(h);
    await h.emu.close();
    await h.pty.unplug();
    await waitFor(() => h.downs.length === 1, 'down');
    await h.pty.replug();
    await waitFor(() => h.reader.state === 'up', 'reopened');
    await h.emu.open();
    await h.emu.present(LINE8);
    await waitFor(() => h.suns.length === 1, 'a tap after the replug');
    assert.equal(h.suns[0]?.text, LINE8);
    assert.equal(h.reader.stats().reopens, 1);
  } finally {
    await h.close();
  }
});
