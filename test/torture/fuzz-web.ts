// Input 7: the status page's HTTP API (issue 13), against the demo room's real daemon, ledger
// file and WebServer on a free port. Each case is one request on a fresh connection from its own
// loopback address (127.x.y.z, so per-address limits are exercised, and their bounded tables):
// any method on known and random paths, good, foreign and missing Host headers, no, wrong and
// right operator tokens, JSON and other content types, valid action and feedback bodies with
// structure-aware edits, arbitrary JSON and bytes, oversized bodies. Every answer is an HTTP
// status; a refusal carries a JSON reason (HEAD: no body); no 500; no answer carries the operator
// token or a full card UID; a refused request leaves money, vends, cards and the outbox as they
// were; the server still answers /api/status at the end.
import { request } from 'node:http';
import fc from 'fast-check';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { OPERATOR_TOKEN, startWebRoom } from '../web/harness.js';
import { Tally, must, runProperties, type FuzzEnv, type InputReport } from './fuzz-common.js';
import { applyJsonEdit, jsonEdit, jsonValue, type Json } from './fuzz-json.js';
import { LedgerState } from './lib-state.js';

const PATHS = ['/', '/index.html', '/api/status', '/api/events', '/metrics', '/healthz', '/api/feedback', '/api/actions/block-card', '/api/actions/refund', '/api/actions/service-mode', '/api/actions/clear-fault', '/api/actions/nope', '/api/../metrics', '/%ZZ', '//api/status', '/api/status?x=1#y'];
const BODIES: Record<string, Json> = {
  '/api/feedback': { machineId: 'W1', message: 'the door does not close', contact: 'me@example.org' },
  '/api/actions/block-card': { uid: '04DEADBEEF' },
  '/api/actions/refund': { vendId: 'no-such-vend', reason: 'operator_refund' },
  '/api/actions/service-mode': { machineId: 'W1', on: false },
  '/api/actions/clear-fault': { machineId: 'W2' },
};

interface Case {
  method: string;
  path: string;
  host: 'ok' | 'name' | 'foreign' | 'none';
  auth: 'none' | 'right' | 'wrong' | 'garbage';
  type: 'json' | 'text' | 'none';
  body: { kind: 'valid'; edits: Parameters<typeof applyJsonEdit>[1][] } | { kind: 'json'; v: Json } | { kind: 'bytes'; s: string } | { kind: 'huge'; n: number } | { kind: 'none' };
  from: [number, number, number];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => `/${encodeURI(s)}`) }),
  host: fc.constantFrom<Case['host']>('ok', 'ok', 'ok', 'name', 'foreign', 'none'),
  auth: fc.constantFrom<Case['auth']>('none', 'right', 'right', 'wrong', 'garbage'),
  type: fc.constantFrom<Case['type']>('json', 'json', 'json', 'text', 'none'),
  body: fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('valid' as const), edits: fc.array(jsonEdit, { maxLength: 2 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('json' as const), v: jsonValue }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), s: fc.string({ maxLength: 300, unit: 'binary' }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), n: fc.integer({ min: 8 * 1024 + 1, max: 40_000 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  ),
  from: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 2, max: 254 })),
});

interface Reply {
  status: number;
  type: string;
  body: string;
}

function send(base: URL, c: Case): Promise<Reply> {
  let body: Buffer | undefined;
  if (c.body.kind === 'valid') {
    let v: Json = BODIES[c.path] ?? { message: 'hello there' };
    for (const e of c.body.edits) v = applyJsonEdit(v, e);
    body = Buffer.from(JSON.stringify(v));
  } else if (c.body.kind === 'json') body = Buffer.from(JSON.stringify(c.body.v));
  else if (c.body.kind === 'bytes') body = Buffer.from(c.body.s, 'latin1');
  else if (c.body.kind === 'huge') body = Buffer.alloc(c.body.n, 0x61);
  const headers: Record<string, string> = {};
  if (c.host === 'ok') headers['host'] = base.host;
  else if (c.host === 'name') headers['host'] = `laundry-gw.local:${base.port}`;
  else if (c.host === 'foreign') headers['host'] = 'rebind.attacker.example';
  if (c.auth === 'right') headers['authorization'] = `Bearer ${OPERATOR_TOKEN}`;
  else if (c.auth === 'wrong') headers['authorization'] = 'Bearer wrong-token-wrong-token';
  else if (c.auth === 'garbage') headers['authorization'] = 'Basic Zm9vOmJhcg==';
  if (c.type === 'json') headers['content-type'] = 'application/json';
  else if (c.type === 'text') headers['content-type'] = 'text/plain';
  if (body !== undefined) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path: c.path, method: c.method, headers, agent: false, setHost: false, localAddress: `127.${c.from[0]}.${c.from[1]}.${c.from[2]}` }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode ?? 0, type, body: '' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function fuzzWeb(env: FuzzEnv): Promise<InputReport> {
  const t0 = performance.now();
  const tally = new Tally();
  const room = await startWebRoom({ timeScale: 1, web: { allowedHosts: ['laundry-gw.local'] }, feedbackLimits: { perClient: { capacity: 5, refillMs: 600_000 }, global: { capacity: 100_000, refillMs: 600_000 } } });
  const base = new URL(room.base);
  const state = new LedgerState(room.daemon.config.database.path);
  const secrets = [OPERATOR_TOKEN, ...DEMO_CARDS.map((c) => c.uid)];
  const violations: string[] = [];
  let resets = 0;
  try {
    const property = () =>
      fc.asyncProperty(caseArb, async (c) => {
        const before = state.snapshot();
        let r: Reply;
        try {
          r = await send(base, c);
        } catch (e) {
          // The server may close a connection it refused (body too large, bad request) while
          // the body is still being written: a reset is a refusal, not a crash, if it still answers.
          const alive = await send(base, { ...c, method: 'GET', path: '/healthz', host: 'ok', body: { kind: 'none' }, type: 'none' });
          must(alive.status === 200, () => `the server stopped answering after ${(e as Error).message}`);
          resets++;
          tally.reject('connection reset');
          must(state.snapshot() === before, 'a reset request changed the ledger');
          return true;
        }
        must(r.status !== 500, () => `500 on ${c.method} ${c.path}: ${r.body.slice(0, 200)}`);
        for (const s of secrets) must(!r.body.toUpperCase().includes(s.toUpperCase()), () => `the answer to ${c.method} ${c.path} carries a secret`);
        if (r.status >= 200 && r.status < 300) {
          tally.accept();
          return true;
        }
        if (c.method !== 'HEAD') {
          let reason = '';
          let code = '';
          try {
            const j = JSON.parse(r.body) as { error?: unknown; reason?: unknown };
            reason = typeof j.reason === 'string' ? j.reason : '';
            code = typeof j.error === 'string' ? j.error : '';
          } catch {
            reason = '';
          }
          must(reason.trim().length > 0, () => `${r.status} without a reason on ${c.method} ${c.path}: ${r.body.slice(0, 200)}`);
          tally.reject(`${r.status} ${code}`);
        } else tally.reject(`${r.status} (HEAD)`);
        must(state.snapshot() === before, () => `a refused ${c.method} ${c.path} (${r.status}) changed the ledger`);
        return true;
      });
    const r = await runProperties(env, [{ id: 'web.requests', weight: 1, property }]);
    violations.push(...r.violations);
    const last = await send(base, { method: 'GET', path: '/api/status', host: 'ok', auth: 'none', type: 'none', body: { kind: 'none' }, from: [0, 0, 1] });
    if (last.status !== 200) violations.push(`web: /api/status answers ${last.status} after the fuzz`);
    return {
      input: 'web',
      title: 'status page HTTP API: methods, paths, Host headers, tokens, content types, edited and random bodies from 16 million loopback addresses: an answer each, refusals with a reason, no 500, no secret, ledger untouched by refusals',
      runs: r.runs,
      seconds: (performance.now() - t0) / 1000,
      tally,
      extra: { resets },
      violations,
    };
  } finally {
    state.close();
    await room.close();
  }
}
