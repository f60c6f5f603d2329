// The web tests' room: the demo room in the simulator (TCP, RTU framing, time sped up), a real
// Daemon with a real ledger file in a temp dir, the demo cards, and the WebServer on a free
// port over statusSourceFromDaemon: exactly what the integrator wires.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimRoom, demoRoomUnits } from '../../simulator/index.js';
import { Daemon } from '../../gateway/daemon.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger, type Logger } from '../../gateway/core/log.js';
import { DEMO_CARDS, demoGatewayConfig } from '../../gateway/demo/room.js';
import { keyPairFromSeed } from '../../protocols/qr-token/index.js';
import { WebServer, statusSourceFromDaemon, type FeedbackLimits } from '../../gateway/web/index.js';
import type { WebConfigInput } from '../../gateway/web/config-schema.js';

export const OPERATOR_TOKEN = 'test-operator-token-0123456789';

export interface WebRoom {
  room: SimRoom;
  daemon: Daemon;
  web: WebServer;
  base: string;
  close(): Promise<void>;
}

function testLogger(): Logger {
  return process.env.WEB_TEST_LOG ? createLogger({ level: process.env.WEB_TEST_LOG, destination: 2 }) : silentLogger();
}

export async function startWebRoom(o: { timeScale?: number; feedbackLimits?: FeedbackLimits; logger?: Logger; web?: Partial<WebConfigInput> } = {}): Promise<WebRoom> {
  const logger = o.logger ?? testLogger();
  const dir = mkdtempSync(join(tmpdir(), 'web-'));
  const room = new SimRoom({ units: demoRoomUnits(), timeScale: o.timeScale ?? 20, replyDelayMs: 2 });
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  room.start();
  const qrKey = keyPairFromSeed(new Uint8Array(32).fill(7));
  const input = demoGatewayConfig({ tcpPort: port, dbPath: join(dir, 'ledger.db'), qrPublicKey: Buffer.from(qrKey.publicKey).toString('base64url') });
  const config = gatewayConfigSchema.parse({ ...input, buses: input.buses.map((b) => ({ ...b, pollIntervalMs: 250 })), log: { level: 'info' } });
  const daemon = new Daemon(config, { logger, clock: systemClock });
  DEMO_CARDS.forEach((c) => daemon.ledger.applyAccountSnapshot({ accountId: c.accountId, version: 1, balanceCents: c.balanceCents, points: 0, tier: c.tier, coveredSeq: 0 }));
  daemon.ledger.applyCardList({ kind: 'full', version: 1, cards: DEMO_CARDS.map((c) => ({ uid: c.uid, accountId: c.accountId, status: 'active' as const })) });
  await daemon.start();
  const web = new WebServer({
    config: { host: '127.0.0.1', port: 0, operatorToken: OPERATOR_TOKEN, ...o.web },
    source: statusSourceFromDaemon(daemon),
    logger,
    activityPollMs: 100,
    healthEveryMs: 500,
    ...(o.feedbackLimits ? { feedbackLimits: o.feedbackLimits } : {}),
  });
  await web.start();
  return {
    room,
    daemon,
    web,
    base: web.url(),
    async close() {
      await web.stop();
      await daemon.stop();
      await room.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** Card swiped at a machine with a program selected on its panel, then Start pressed: a running cycle. */
export async function startCycle(r: WebRoom, machineId: string, unit: number, program: number): Promise<string> {
  await waitFor(`${machineId} polled idle`, () => r.daemon.machines.state(machineId)?.status === 'idle');
  r.room.control.selectProgram(unit, program);
  await waitFor(`${machineId} program selected`, () => r.daemon.machines.state(machineId)?.selectedProgram === program);
  const alice = DEMO_CARDS[0];
  const out = await r.daemon.engine.cardSwipe({ readerId: `reader-${machineId}`, uid: alice.uid, machineId });
  if (out.result !== 'captured') throw new Error(`vend on ${machineId} was ${out.result}: ${JSON.stringify(out)}`);
  r.room.control.pressStart(unit);
  await waitFor(`${machineId} running`, () => r.daemon.machines.state(machineId)?.status === 'running');
  return out.vendId;
}
