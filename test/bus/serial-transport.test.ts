// The device-node watch on its own: a by-id style symlink removed while the port itself still
// works (as when a USB adapter's reads just return 0 bytes), and re-pointed at another device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../gateway/core/log.js';
import { SerialTransport } from '../../gateway/bus/serial-transport.js';
import { openPtyPair } from '../helpers/pty.js';
import { waitFor } from './harness.js';

test('serial transport: node removed → closed by us and down; node back → reopened; node replaced → reopened on the new one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'by-id-'));
  const link = join(dir, 'usb-FTDI_FT232R_USB_UART_A10KZ1-if00-port0');
  const one = await openPtyPair();
  const two = await openPtyPair();
  const t = new SerialTransport({ path: link, watchIntervalMs: 30, reopenInitialMs: 30, reopenMaxMs: 100 }, { logger: silentLogger() });
  const events: string[] = [];
  t.on('up', () => events.push('up'));
  t.on('down', (reason) => events.push(`down: ${reason}`));
  try {
    t.open(); // nothing there yet: must wait quietly, not throw
    await waitFor(() => events.length === 0 && !t.isUp, 1000, 'still down');
    symlinkSync(one.a, link);
    await waitFor(() => t.isUp, 5000, 'up once the node appears');
    await assert.doesNotReject(t.write(Buffer.from([1, 2, 3])));

    unlinkSync(link);
    await waitFor(() => events.includes('down: device node gone'), 5000, 'down on node removal');
    await assert.rejects(t.write(Buffer.from([1])), /down/);

    symlinkSync(two.a, link);
    await waitFor(() => t.isUp, 5000, 'reopened');
    // atomically, as udev re-points a by-id link: the name never goes missing
    symlinkSync(one.a, `${link}.new`);
    renameSync(`${link}.new`, link);
    await waitFor(() => events.includes('down: device node replaced'), 5000, 'down on node replacement');
    await waitFor(() => events.filter((e) => e === 'up').length === 3, 5000, 'reopened on the new node');
    assert.equal(t.isUp, true);
  } finally {
    await t.close();
    assert.equal(t.isUp, false);
    await one.close();
    await two.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
