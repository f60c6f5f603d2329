// `npm run demo`: a whole simulated laundry room on this machine, nothing to install. The
// simulator serves 8 washers, 4 dryers and a RIO-8 with 4 coin machines over TCP (RTU framing);
// an in-process MQTT broker (aedes) and the reference cloud consumer stand in for the cloud; the
// gateway polls the machines, serves its status page, and a scripted customer swipes cards,
// scans a QR token, presses Start and opens doors, so every path shows in the log: decision,
// hold, credit, start, countdown, done, a refund when a machine refuses, batches acknowledged
// by the cloud, a top-up and a remote start from the app, and a secure card on a type S reader
// (a secure vend, its message replayed, a copy of its UID). Type `help` for commands. With
// `--home-assistant`, a second in-process broker stands for the building's, with a stand-in for
// Home Assistant reading the room through MQTT discovery (docs/home-assistant.md).
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { CloudConsumer } from '../../simulator/cloud/consumer.js';
import { ed25519PrivateKey } from '../../protocols/qr-token/cose.js';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SimRoom, demoRoomUnits, startControlServer, type ControlServer } from '../../simulator/index.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { createLogger } from '../core/log.js';
import { systemClock } from '../core/clock.js';
import { Daemon } from '../daemon.js';
import { keyPairFromSeed, mintToken } from '../../protocols/qr-token/index.js';
import { DEMO_CARDS, DEMO_ROOM_ID, demoGatewayConfig } from './room.js';
import { prettyStream } from './pretty.js';
import { DemoScript } from './script.js';
import { startDemoHomeAssistant, type DemoHomeAssistant } from './home-assistant.js';
import { DEMO_SECURE_CARD, startDemoSecureReader } from './secure-reader.js';

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

async function main(): Promise<void> {
  // DEMO_DIR: where the demo's databases go (tests running two demos at once give each its own).
  const dir = process.env.DEMO_DIR ?? join(process.cwd(), 'var', 'demo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const logger = createLogger({ destination: prettyStream(process.stdout), level: process.env.LOG_LEVEL ?? 'info' });

  const timeScale = Number(process.env.DEMO_TIME_SCALE ?? 20);
  const room = new SimRoom({ units: demoRoomUnits(), timeScale, logger: logger.child({ component: 'simulator' }) });
  room.start();
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  let control: ControlServer | null = null;
  try {
    control = await startControlServer(room.control, { port: Number(process.env.DEMO_SIM_CONTROL_PORT ?? 8081), host: '127.0.0.1', logger });
  } catch (e) {
    logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'simulator control API not started');
  }

  // The cloud: an in-process broker and the reference consumer, which stores batches, acks them
  // and publishes signed downlinks with its configuration key.
  const broker = await Aedes.createBroker();
  const mqttServer = createServer(broker.handle);
  await new Promise<void>((resolve) => mqttServer.listen(Number(process.env.DEMO_MQTT_PORT ?? 0), '127.0.0.1', () => resolve()));
  const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
  const cloudKey = keyPairFromSeed(new Uint8Array(32).fill(11));
  const cloudLog = logger.child({ component: 'cloud' });
  const cloud = new CloudConsumer({
    url: mqttUrl,
    protocolVersion: 4,
    dbPath: join(dir, 'cloud.db'),
    signingKey: ed25519PrivateKey(cloudKey.privateKey),
    logger: cloudLog,
    policy: (b) => {
      cloudLog.info({ batchId: b.batchId, records: b.records.length, types: [...new Set(b.records.map((r) => r.type))].join(',') }, 'cloud: batch stored, acknowledging');
      return 'ack';
    },
  });
  await cloud.start();

  // --home-assistant: the building's broker and a stand-in for Home Assistant (MQTT discovery).
  const homeAssistant: DemoHomeAssistant | null = process.argv.includes('--home-assistant')
    ? await startDemoHomeAssistant({ port: Number(process.env.DEMO_HA_MQTT_PORT ?? 0), logger })
    : null;
  // A type S reader at W6 on a socat pty, and dave's secure card tapping on it.
  const secureReader = await startDemoSecureReader(dir);
  if (secureReader === null) logger.warn('socat is not installed: the demo runs without its secure card and type S reader');
  const qrKey = keyPairFromSeed(new Uint8Array(32).fill(7));
  const config = gatewayConfigSchema.parse({
    ...demoGatewayConfig({
      tcpPort: port,
      dbPath: join(dir, 'ledger.db'),
      qrPublicKey: Buffer.from(qrKey.publicKey).toString('base64url'),
      mqtt: { url: mqttUrl, configPublicKey: Buffer.from(cloudKey.publicKey).toString('base64url') },
      webPort: Number(process.env.DEMO_WEB_PORT ?? 8080),
    }),
    ...(homeAssistant ? { homeAssistant: { url: homeAssistant.url, protocolVersion: 4 } } : {}),
    ...(secureReader
      ? {
          readers: [{ id: `sun-${DEMO_SECURE_CARD.machineId}`, type: 'sun', path: secureReader.path, attachedTo: { machineId: DEMO_SECURE_CARD.machineId }, pollMs: 50 }],
          secureCards: { keyFile: secureReader.keyFile },
        }
      : {}),
  });
  const daemon = new Daemon(config, { logger, clock: systemClock });
  // The cloud would send these: account snapshots and the card list.
  const d = DEMO_SECURE_CARD;
  [...DEMO_CARDS, d].forEach((c) => daemon.ledger.applyAccountSnapshot({ accountId: c.accountId, version: 1, balanceCents: c.balanceCents, points: 0, tier: c.tier, coveredSeq: 0 }));
  daemon.ledger.applyCardList({
    kind: 'full',
    version: 1,
    cards: [...DEMO_CARDS.map((c) => ({ uid: c.uid, accountId: c.accountId, status: 'active' as const })), { uid: d.uid, accountId: d.accountId, status: 'active' as const, secure: true, keyVersion: 1 }],
  });
  await daemon.start();

  const web = daemon.web.address();
  say(`\n  Status page: http://127.0.0.1:${web?.port ?? '?'}/   (API /api/status, metrics /metrics; operator token demo-operator-token-0001)`);
  say(`  Simulated room on tcp://127.0.0.1:${port} (RTU framing), time x${timeScale}; simulator control API ${control ? `http://127.0.0.1:${control.port}/units` : 'off'}; MQTT broker ${mqttUrl}.`);
  if (homeAssistant) say(`  Home Assistant discovery on the building's broker ${homeAssistant.url} (prefix homeassistant/, states under laundry-gateway/).`);
  say('  The gateway polls 13 units (16 machines). Type "help" for commands; Ctrl-C to stop.\n');

  const mint = (machineId: string, amountCents: number): string => {
    const now = Math.floor(Date.now() / 1000);
    return mintToken(
      { iss: 'laundry-cloud', aud: DEMO_ROOM_ID, exp: now + 600, iat: now, cti: new Uint8Array(crypto.getRandomValues(new Uint8Array(12))), amt: amountCents, m: machineId, acct: 'acct-app-user' },
      qrKey.privateKey,
    );
  };
  const script = new DemoScript({ daemon, room, logger, mint, cloud, secureReader });
  if (process.env.DEMO_SCRIPT !== 'off') script.start();

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    void script.command(line.trim()).then((msg) => msg && say(msg));
  });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    rl.close();
    script.stop();
    await daemon.stop();
    await secureReader?.close();
    await cloud.stop();
    await homeAssistant?.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    mqttServer.close();
    await control?.close();
    await room.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
