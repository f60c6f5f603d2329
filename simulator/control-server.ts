// The room's control panel for people and the demo: a small JSON API on 127.0.0.1. Bodies are
// parsed with zod; bad input is a 400 with the reason, an unknown unit 404, an action the
// machine refuses (door locked, Start without credit) 409.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../gateway/core/log.js';
import { SimActionError } from './errors.js';
import type { SimControl } from './control.js';
import { listen } from './listen.js';

export interface ControlServer {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;
const int = z.number().int();
const empty = z.object({}).strict();

type Action = { schema: z.ZodType; run: (c: SimControl, unit: number, body: never) => void };

function action<S extends z.ZodType>(schema: S, run: (c: SimControl, unit: number, body: z.output<S>) => void): Action {
  return { schema, run: run as Action['run'] };
}

const ACTIONS: Record<string, Action> = {
  start: action(z.object({ channel: int.min(0).max(7).optional() }).strict(), (c, u, b) => c.pressStart(u, b.channel)),
  door: action(z.object({ open: z.boolean() }).strict(), (c, u, b) => c.setDoor(u, b.open)),
  fault: action(z.object({ code: int.min(1).max(8) }).strict(), (c, u, b) => c.injectFault(u, b.code)),
  'clear-fault-condition': action(empty, (c, u) => c.resolveFaultCondition(u)),
  offline: action(z.object({ offline: z.boolean() }).strict(), (c, u, b) => c.setOffline(u, b.offline)),
  corrupt: action(z.object({ n: int.min(0).max(10_000) }).strict(), (c, u, b) => c.corruptReplies(u, b.n)),
  drop: action(z.object({ n: int.min(0).max(10_000) }).strict(), (c, u, b) => c.dropReplies(u, b.n)),
  delay: action(z.object({ ms: int.min(0).max(60_000), n: int.min(0).max(10_000) }).strict(), (c, u, b) => c.delayReplies(u, b.ms, b.n)),
  garbage: action(z.object({ bytes: int.min(1).max(256) }).strict(), (c, u, b) => c.garbage(u, b.bytes)),
  select: action(z.object({ program: int.min(0).max(16) }).strict(), (c, u, b) => c.selectProgram(u, b.program)),
  load: action(z.object({ grams: int.min(0).max(655_350) }).strict(), (c, u, b) => c.setLoad(u, b.grams)),
  hardness: action(z.object({ dh10: int.min(0).max(65_534) }).strict(), (c, u, b) => c.setWaterHardness(u, b.dh10)),
  'eeprom-busy': action(z.object({ ms: int.min(0).max(60_000) }).strict(), (c, u, b) => c.eepromBusy(u, b.ms)),
  'clear-wire-faults': action(empty, (c, u) => c.clearWireFaults(u)),
};

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_BODY) return { ok: false, reason: 'body too large' };
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
}

function status(e: SimActionError): number {
  return e.kind === 'unknown-unit' ? 404 : e.kind === 'bad-argument' ? 400 : 409;
}

async function route(control: SimControl, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname.split('/').filter((p) => p !== '');
  if (req.method === 'GET' && parts.length === 1 && parts[0] === 'units') {
    send(res, 200, control.units().map((u) => control.snapshot(u)));
    return;
  }
  if (req.method === 'POST' && parts.length === 1 && (parts[0] === 'power-cycle' || parts[0] === 'reset')) {
    if (parts[0] === 'reset') control.reset();
    else control.powerCycle();
    send(res, 200, { ok: true });
    return;
  }
  if (parts[0] !== 'units' || parts.length < 2 || parts.length > 3) {
    send(res, 404, { error: 'not found' });
    return;
  }
  const unit = Number(parts[1]);
  if (!Number.isInteger(unit) || unit < 1 || unit > 247) {
    send(res, 400, { error: `unit must be 1..247, not ${parts[1] ?? ''}` });
    return;
  }
  if (parts.length === 2) {
    if (req.method !== 'GET') send(res, 405, { error: 'use GET' });
    else send(res, 200, control.snapshot(unit));
    return;
  }
  const act = ACTIONS[parts[2] ?? ''];
  if (!act) {
    send(res, 404, { error: `no action ${parts[2] ?? ''}`, actions: Object.keys(ACTIONS) });
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, { error: 'use POST' });
    return;
  }
  const body = await readBody(req);
  if (!body.ok) {
    send(res, 400, { error: body.reason });
    return;
  }
  const parsed = act.schema.safeParse(body.value);
  if (!parsed.success) {
    send(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    return;
  }
  act.run(control, unit, parsed.data as never);
  send(res, 200, control.snapshot(unit));
}

export async function startControlServer(control: SimControl, o: { port: number; host?: string; logger: Logger }): Promise<ControlServer> {
  const server = createServer((req, res) => {
    route(control, req, res).catch((e: unknown) => {
      if (e instanceof SimActionError) send(res, status(e), { error: e.message });
      else {
        o.logger.error({ err: e }, 'control request failed');
        send(res, 500, { error: 'internal error' });
      }
    });
  });
  const port = await listen(server, o.port, o.host);
  o.logger.info({ port }, 'simulator control API listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
