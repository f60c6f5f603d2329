import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { openPtyPair } from './pty.js';

test('socat pty pair carries bytes both ways and can be unplugged and replugged', async () => {
  const pty = await openPtyPair();
  try {
    const a = new SerialPort({ path: pty.a, baudRate: 19200 });
    const b = new SerialPort({ path: pty.b, baudRate: 19200 });
    await Promise.all([new Promise((r) => a.once('open', r)), new Promise((r) => b.once('open', r))]);
    const got = new Promise<Buffer>((r) => b.once('data', r));
    a.write(Buffer.from([1, 2, 3]));
    assert.deepEqual([...(await got)], [1, 2, 3]);
    await new Promise((r) => a.close(r));
    await new Promise((r) => b.close(r));
    await pty.unplug();
    assert.equal(existsSync(pty.a), false);
    await pty.replug();
    assert.equal(existsSync(pty.a), true);
  } finally {
    await pty.close();
  }
});
