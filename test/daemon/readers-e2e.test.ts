// The whole chain with real serial framing: a card reader and a QR scanner on socat ptys, the
// daemon deciding, the bus master crediting simulated machines over TCP, the ledger on a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimRoom, demoRoomUnits } from '../../simulator/index.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { Daemon } from '../../gateway/daemon.js';
import { DEMO_CARDS, DEMO_ROOM_ID, demoGatewayConfig } from '../../gateway/demo/room.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { keyPairFromSeed, mintToken } from '../../protocols/qr-token/index.js';
import { openPtyPair } from '../helpers/pty.js';
import { slow } from '../helpers/slowdown.js';

async function until<T>(what: string, f: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test('a card at a machine reader and a QR code at the kiosk scanner each vend exactly once', { timeout: slow(60_000) }, async () => {
  const room = new SimRoom({ units: demoRoomUnits(), timeScale: 60 });
  room.start();
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  const cardPty = await openPtyPair();
  const qrPty = await openPtyPair();
  const key = keyPairFromSeed(new Uint8Array(32).fill(3));
  const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
  const input = demoGatewayConfig({ tcpPort: port, dbPath: join(dir, 'ledger.db'), qrPublicKey: Buffer.from(key.publicKey).toString('base64url') });
  const config = gatewayConfigSchema.parse({
    ...input,
    readers: [
      { id: 'reader-W1', type: 'line', path: cardPty.a, attachedTo: { machineId: 'W1' } },
      { id: 'kiosk-qr', type: 'qr', path: qrPty.a, baudRate: 115200, attachedTo: 'kiosk' },
    ],
  });
  const daemon = new Daemon(config, { logger: silentLogger(), clock: systemClock });
  const alice = DEMO_CARDS[0];
  daemon.ledger.applyAccountSnapshot({ accountId: alice.accountId, version: 1, balanceCents: alice.balanceCents, points: 0, tier: alice.tier, coveredSeq: 0 });
  daemon.ledger.applyCardList({ kind: 'full', version: 1, cards: [{ uid: alice.uid, accountId: alice.accountId, status: 'active' }] });
  const cardReader = new ReaderEmulator({ path: cardPty.b, type: 'line' });
  const scanner = new ReaderEmulator({ path: qrPty.b, type: 'qr', baudRate: 115200 });
  try {
    await daemon.start();
    await until('W1 and W5 polled idle', () => daemon.machines.state('W1')?.status === 'idle' && daemon.machines.state('W5')?.status === 'idle');
    await cardReader.open();
    await scanner.open();

    // Line noise first: never a card, never a vend.
    await cardReader.writeRaw('\x00\xff garbage 12\r\n04A2\r\n');
    // The card stays in the field for 1.2 s: the reader repeats its UID every 300 ms.
    await cardReader.swipe(alice.uid, 1200);
    const w1 = await until('the W1 vend to finish', () => daemon.ledger.recentVends(10).find((v) => v.machineId === 'W1' && v.state !== 'held' && v.state !== 'credit_sent'));
    assert.equal(w1.state, 'captured');
    assert.equal(w1.method, 'card');
    // The machine itself holds the credit the ledger captured (input 23, cents).
    assert.equal(room.control.lw485(1).inputRegisters[23], w1.amountCents);
    assert.equal(room.control.lw485(1).stateName, 'CREDITED');
    assert.equal(daemon.ledger.balance(alice.accountId)?.balanceCents, alice.balanceCents - w1.amountCents);

    const now = Math.floor(Date.now() / 1000);
    const token = mintToken({ iss: 'laundry-cloud', aud: DEMO_ROOM_ID, exp: now + 600, iat: now, cti: new Uint8Array(10).fill(9), amt: 500, m: 'W5', p: 3 }, key.privateKey);
    // The phone is held in front of the scanner for 1.5 s: decoded again and again.
    await scanner.scan(token, 1500);
    const w5 = await until('the W5 vend to finish', () => daemon.ledger.recentVends(10).find((v) => v.machineId === 'W5' && (v.state === 'captured' || v.state === 'refunded')));
    assert.equal(w5.state, 'captured');
    assert.equal(w5.method, 'qr');
    assert.equal(w5.program, 3);
    assert.equal(w5.tokenAmountCents, 500);

    // Shown again after the scanner's 3 s debounce: the same token is refused as replayed.
    await sleep(3200);
    await scanner.scan(token, 0);
    await until('a replayed decline', () => daemon.ledger.readAudit(1, 1000).some((a) => a.kind === 'decline' && a.reason === 'replayed'));

    const vends = daemon.ledger.recentVends(50);
    assert.equal(vends.filter((v) => v.machineId === 'W1').length, 1, 'one swipe, one vend');
    assert.equal(vends.filter((v) => v.machineId === 'W5').length, 1, 'one token, one vend');
    assert.equal(daemon.ledger.verifyAudit().ok, true);
    const stats = daemon.readers.map((r) => r.stats());
    assert.ok((stats.find((s) => s.readerId === 'reader-W1')?.repeats ?? 0) >= 2, 'the reader repeated the UID');
  } finally {
    await cardReader.close();
    await scanner.close();
    await daemon.stop();
    await room.close();
    await cardPty.close();
    await qrPty.close();
  }
});
