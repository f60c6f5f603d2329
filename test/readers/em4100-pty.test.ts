// Type E over a real pty: good frames, bad checksums, stray bytes and cut frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EM4100_ETX, EM4100_STX, encodeEm4100Frame } from '../../protocols/readers/em4100.js';
import { drained, harness, waitFor } from './harness.js';

const TAG = '0F00A1B2C3';

test('type E: a tag held for 1 s (a frame every 100 ms) is one swipe with the 10 data characters', async () => {
  const h = await harness('em4100');
  try {
    const sent = await h.emu.swipe(TAG, 1000);
    assert.ok(sent >= 5);
    await waitFor(() => h.reader.stats().framesOk >= sent, 'every frame read');
    assert.deepEqual(h.swipes.map((s) => s.uid), [TAG]);
    assert.equal(h.noise.length, 0);
  } finally {
    await h.close();
  }
});

test('type E: a frame with a wrong checksum is noise and never a card', async () => {
  const h = await harness('em4100');
  try {
    const bad = encodeEm4100Frame(TAG);
    bad[11] = bad[11] === 0x30 ? 0x31 : 0x30; // one checksum character off
    await h.emu.writeRaw(bad);
    const flipped = encodeEm4100Frame(TAG);
    flipped[3] = flipped[3] === 0x41 ? 0x42 : 0x41; // one data character off
    await h.emu.writeRaw(flipped);
    await drained(h);
    assert.equal(h.swipes.length, 0);
    assert.equal(h.reader.stats().noise['bad-checksum'], 2);
  } finally {
    await h.close();
  }
});

test('type E: stray bytes between frames and a cut frame do not stop the next good frame', async () => {
  const h = await harness('em4100');
  try {
    await h.emu.writeRaw(Buffer.from([0xff, 0x00, EM4100_ETX, 0x41, 0x0d, 0x0a]));
    await h.emu.cutFrame(TAG, 6); // STX and 5 characters, then the cable moved
    await h.emu.swipe('1234567890', 0);
    await h.emu.writeRaw(Buffer.from([0x55, EM4100_STX, 0x30, EM4100_ETX])); // a short frame
    await drained(h);
    assert.deepEqual(h.swipes.map((s) => s.uid), ['1234567890']);
    const st = h.reader.stats();
    assert.ok(st.noise['stray-bytes'] >= 1);
    assert.equal(st.noise['cut-frame'], 1);
    assert.equal(st.noise['bad-length'], 1);
  } finally {
    await h.close();
  }
});

test('type E: a frame with no ETX for 10 kB is dropped with bounded memory', async () => {
  const h = await harness('em4100');
  try {
    await h.emu.writeRaw(Buffer.concat([Buffer.from([EM4100_STX]), Buffer.alloc(10 * 1024, 0x41)]));
    await drained(h);
    assert.ok(h.reader.stats().pendingBytes <= 64);
    assert.equal(h.reader.stats().noise.oversize, 1);
    await h.emu.swipe(TAG, 300);
    await waitFor(() => h.swipes.length === 1, 'a swipe after the garbage');
    assert.equal(h.swipes[0]?.uid, TAG);
  } finally {
    await h.close();
  }
});
