// Input 6: the control socket (issue 13). Request lines over a real Unix socket to a real
// ControlServer over a real ledger file: arbitrary text, arbitrary JSON, valid requests with
// structure-aware edits, oversized lines. Every line gets exactly one answer of the protocol's
// shape; a refusal has a code and a message; a refused request leaves the ledger as it was; the
// server keeps answering (a final status). Pipelined: each case is written before the previous
// answers are read, so the back-pressure path is exercised too.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { controlRequest } from '../../gateway/control/client.js';
import { MAX_REQUEST_BYTES, controlResponseSchema } from '../../gateway/control/protocol.js';
import { ControlServer } from '../../gateway/control/server.js';
import type { ControlTarget } from '../../gateway/control/target.js';
import { openLedger } from '../../storage/index.js';
import { Tally, must, runProperties, type FuzzEnv, type InputReport } from './fuzz-common.js';
import { applyJsonEdit, jsonEdit, jsonValue, type Json } from './fuzz-json.js';
import { LedgerState } from './lib-state.js';

const UIDS = ['04A1B2C3', '04A1B2C3D45E80', '0A0B0C0D0E'];
const VALID: Json[] = [
  { cmd: 'status' },
  { cmd: 'machines' },
  { cmd: 'tx', limit: 5 },
  { cmd: 'outbox', deadLetters: 2 },
  { cmd: 'audit.verify' },
  { cmd: 'bus.read', unit: 1, fc: 3, address: 0, count: 4 },
  { cmd: 'bus.write', unit: 1, address: 0, value: 1 },
  { cmd: 'bus.scan', from: 1, to: 2, timeoutMs: 10 },
  { cmd: 'card.show', uid: UIDS[0] ?? '' },
  { cmd: 'card.block', uid: UIDS[1] ?? '' },
  { cmd: 'card.unblock', uid: UIDS[2] ?? '' },
];
/** Commands that may change the ledger when accepted. */
const WRITES = new Set(['card.block', 'card.unblock']);

const lineArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ pick: fc.nat(), edits: fc.array(jsonEdit, { maxLength: 2 }), id: fc.option(fc.oneof(fc.nat(), fc.string({ maxLength: 70 }))) }).map((r) => {
    let v = VALID[r.pick % VALID.length] ?? null;
    for (const e of r.edits) v = applyJsonEdit(v, e);
    if (r.id !== null && v !== null && typeof v === 'object' && !Array.isArray(v)) v = { ...v, id: r.id };
    return JSON.stringify(v);
  }) },
  { weight: 10, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
  { weight: 10, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
  { weight: 5, arbitrary: fc.constantFrom('{', '[]', 'null', '{"cmd":"status"', '{"cmd":"status","cmd":"tx"}', '\u0000', '{"cmd":"__proto__"}', '{"__proto__":{"cmd":"status"}}') },
  { weight: 1, arbitrary: fc.nat(4).map((k) => `{"cmd":"status","pad":"${'x'.repeat(MAX_REQUEST_BYTES + 1 + k * 1000)}"}`) },
).map((s) => s.replace(/[\r\n]/g, ' ')).filter((s) => s.trim() !== '');

class Conn {
  private buf = '';
  private readonly waiting: Array<(line: string | null) => void> = [];
  private closed = false;

  private constructor(private readonly s: Socket) {
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    s.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
    s.on('error', () => undefined);
  }

  static open(path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  get gone(): boolean {
    return this.closed;
  }

  /** Writes the line, resolves with the answer line (null: the server closed the connection). */
  ask(line: string): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    const p = new Promise<string | null>((resolve) => this.waiting.push(resolve));
    this.s.write(`${line}\n`);
    return p;
  }

  close(): void {
    this.s.destroy();
  }
}

export async function fuzzControl(env: FuzzEnv): Promise<InputReport> {
  const t0 = performance.now();
  const tally = new Tally();
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-control-'));
  const dbPath = join(dir, 'ledger.db');
  const ledger = openLedger({ path: dbPath, roomSecret: Buffer.alloc(32, 9), gatewayId: 'fuzz-room', bootId: 'b', clock: systemClock, logger: silentLogger() });
  ledger.applyAccountSnapshot({ accountId: 'acct-1', version: 1, balanceCents: 1750, points: 0, tier: 'standard', coveredSeq: 0 });
  ledger.applyCardList({ kind: 'full', version: 1, cards: UIDS.map((uid) => ({ uid, accountId: 'acct-1', status: 'active' as const })) });
  const target: ControlTarget = { room: { id: 'fuzz-room', name: null }, bootId: 'b', ledger, buses: [], blockedMachines: () => [], clockTrusted: () => true };
  const socketPath = join(dir, 'control.sock');
  const server = new ControlServer(target, { socketPath, maxConnections: 4 }, { logger: silentLogger(), clock: systemClock });
  await server.start();
  const state = new LedgerState(dbPath);
  let conn = await Conn.open(socketPath);
  let reconnects = 0;
  /** After a too-large line the server closes: the next case opens a new connection. */
  let stale = false;
  const violations: string[] = [];
  try {
    const property = (numRuns: number) =>
      fc.asyncProperty(fc.array(lineArb, { minLength: 1, maxLength: 4 }), async (lines) => {
        void numRuns;
        if (conn.gone || stale) {
          conn.close();
          stale = false;
          conn = await Conn.open(socketPath);
          reconnects++;
        }
        const before = state.snapshot();
        // pipelined: all lines written before any answer is read
        const answers = await Promise.all(lines.map((l) => conn.ask(l)));
        let wrote = false;
        for (const [i, line] of lines.entries()) {
          const a = answers[i];
          const tooLarge = Buffer.byteLength(line) > MAX_REQUEST_BYTES;
          if (tooLarge) stale = true;
          if (a === null || a === undefined) {
            // only after a too-large line does the server close the connection
            must(lines.slice(0, i + 1).some((l) => Buffer.byteLength(l) > MAX_REQUEST_BYTES), () => `connection closed without an answer to ${JSON.stringify(line.slice(0, 200))}`);
            tally.reject('closed after too_large');
            continue;
          }
          const parsed = controlResponseSchema.safeParse(JSON.parse(a));
          must(parsed.success, () => `answer of unknown shape: ${a.slice(0, 200)}`);
          const r = parsed.data;
          if (r.ok) {
            must(!tooLarge, 'a too-large line was accepted');
            let cmd: unknown;
            try {
              cmd = (JSON.parse(line) as { cmd?: unknown }).cmd;
            } catch {
              cmd = undefined;
            }
            if (typeof cmd === 'string' && WRITES.has(cmd)) wrote = true;
            tally.accept();
          } else {
            must(r.error.message.trim().length > 0, `refusal ${r.error.code} without a message`);
            must(r.error.code !== 'failed', () => `a command failed inside the daemon: ${r.error.message}`);
            tally.reject(r.error.code);
          }
        }
        if (!wrote) must(state.snapshot() === before, () => `refused or read-only requests changed the ledger: ${JSON.stringify(lines).slice(0, 300)}`);
        return true;
      });
    const r = await runProperties(env, [{ id: 'control.lines', weight: 1, property }]);
    violations.push(...r.violations);
    conn.close();
    const final = await controlRequest({ socketPath, timeoutMs: 5000 }, { cmd: 'status' });
    if (final.kind !== 'ok') violations.push(`control: the server no longer answers status after the fuzz: ${JSON.stringify(final)}`);
    return {
      input: 'control',
      title: 'control socket request lines (text, JSON, edited valid requests, oversized), pipelined over a real socket: one answer each, refusals with a reason, ledger untouched by refusals',
      runs: r.runs,
      seconds: (performance.now() - t0) / 1000,
      tally,
      extra: { reconnects, 'refusals logged/counted': JSON.stringify(server.stats().refused) },
      violations,
    };
  } finally {
    conn.close();
    await server.stop();
    state.close();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
