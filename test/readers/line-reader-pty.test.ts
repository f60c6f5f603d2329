// Type L over a real pty: the reader's repeat rhythm, noise, cut frames and oversized garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { drained, harness, waitFor } from './harness.js';

const UID7 = '04A2B9C1D25E80';
const UID4 = 'DEADBEEF';

test('type L: a card held in the field for 1.5 s is exactly one swipe', async () => {
  const h = await harness('line');
  try {
    const sent = await h.emu.swipe(UID7, 1500);
    assert.ok(sent >= 4, `the emulator repeated the line (${sent})`);
    await waitFor(() => h.reader.stats().framesOk >= sent, 'every repeat read');
    assert.equal(h.swipes.length, 1);
    const [s] = h.swipes;
    assert.equal(s?.uid, UID7);
    assert.equal(s?.readerId, 'test-line');
    assert.deepEqual(s?.attachedTo, { machineId: 'W1' });
    assert.equal(typeof s?.at, 'number');
    assert.equal(h.reader.stats().repeats, sent - 1);
    assert.equal(h.noise.length, 0);
  } finally {
    await h.close();
  }
});

test('type L: two presentations more than 2 s apart are two swipes; another card in between is its own swipe', async () => {
  const h = await harness('line');
  try {
    await h.emu.swipe(UID7, 300);
    await h.emu.swipe(UID4, 0);
    await drained(h);
    assert.deepEqual(h.swipes.map((s) => s.uid), [UID7, UID4]);
    // The spec's window runs from the LAST line of the card, so wait past it.
    await sleep(2300);
    await h.emu.swipe(UID7, 0);
    await waitFor(() => h.swipes.length === 3, 'the second presentation');
    assert.deepEqual(h.swipes.map((s) => s.uid), [UID7, UID4, UID7]);
  } finally {
    await h.close();
  }
});

test('type L: stray bytes between frames are counted as noise, never a card', async () => {
  const h = await harness('line');
  try {
    await h.emu.writeRaw('\x00\xff\x13garbage\r\n');
    await h.emu.writeRaw('\r\n');
    await h.emu.writeRaw('04a2b9c1d25e80\r\n'); // lowercase: not what a type L reader sends
    await h.emu.writeRaw('04A2B9C1D25E8\r\n'); // 13 characters
    await drained(h);
    assert.equal(h.swipes.length, 0);
    const st = h.reader.stats();
    assert.equal(st.noise['bad-char'], 2);
    assert.equal(st.noise.empty, 1);
    assert.equal(st.noise['bad-length'], 1);
    // Stray bytes right before a held card spoil one line; the next repeat is clean.
    await h.emu.writeRaw('\x7f\x01');
    await h.emu.swipe(UID7, 700);
    await drained(h);
    assert.deepEqual(h.swipes.map((s) => s.uid), [UID7]);
  } finally {
    await h.close();
  }
});

test('type L: a frame cut short by a moved cable is not glued to the next one', async () => {
  const h = await harness('line');
  try {
    // 6 characters of one card then a 14-character UID would be a plausible 20-character UID.
    await h.emu.cutFrame('AABBCCDDEEFF00', 6);
    await drained(h);
    await sleep(300); // the line goes quiet, longer than the frame gap
    await h.emu.swipe(UID7, 0);
    await waitFor(() => h.swipes.length === 1, 'the next card');
    assert.equal(h.swipes[0]?.uid, UID7);
    assert.equal(h.reader.stats().noise['cut-frame'], 1);
  } finally {
    await h.close();
  }
});

test('type L: 10 kB without a delimiter is dropped with bounded memory and the reader keeps reading', async () => {
  const h = await harness('line');
  try {
    const junk = Buffer.alloc(10 * 1024, 0x41); // 'A': hex, so only the cap can catch it
    for (let i = 0; i < junk.length; i += 1024) {
      await h.emu.writeRaw(junk.subarray(i, i + 1024));
      assert.ok(h.reader.stats().pendingBytes <= 65, 'never more than the cap (+1 for a split CR LF) buffered');
    }
    await h.emu.writeRaw('\r\n');
    await drained(h);
    const st = h.reader.stats();
    assert.ok(st.pendingBytes <= 65);
    assert.ok(st.noise.oversize >= 1);
    assert.equal(h.swipes.length, 0);
    await h.emu.swipe(UID4, 700);
    await waitFor(() => h.swipes.length === 1, 'a swipe after the garbage');
    assert.equal(h.swipes[0]?.uid, UID4);
  } finally {
    await h.close();
  }
});

test('type L: a card held on a noisy cable (stray bytes between repeats) is still exactly one swipe', async () => {
  const h = await harness('line');
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const noisy = new ReaderEmulator({ path: h.pty.b, type: 'line', noiseRate: 0.7, random });
  try {
    await h.emu.close();
    await noisy.open();
    await noisy.swipe(UID7, 1200);
    await waitFor(() => h.reader.stats().bytesIn >= noisy.bytesWritten, 'every byte read');
    await sleep(20);
    assert.deepEqual(h.swipes.map((s) => s.uid), [UID7]);
    assert.ok(h.noise.length > 0, 'the noise was seen and counted');
  } finally {
    await noisy.close();
    await h.close();
  }
});
