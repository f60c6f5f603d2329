// Issue 13 cases 4 to 7 on the status page, against the demo room's real daemon and server:
// lockout per address (never for everyone), the connection caps under 1 100 half-open
// connections from another process, the Host allowlist (DNS rebinding) on every endpoint,
// the exposure warning, event streams per client, and the feedback bucket per source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { maskUid } from '../../gateway/core/log.js';
import { OPERATOR_TOKEN, startWebRoom, waitFor, type WebRoom } from './harness.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from a chosen local address (127.0.0.x: a different client), reading the body unless it is a stream. */
function call(base: string, path: string, o: { from?: string; method?: string; headers?: Record<string, string>; body?: unknown; stream?: boolean } = {}): Promise<Answer & { close(): void }> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: o.method ?? (body === undefined ? 'GET' : 'POST'),
        localAddress: o.from ?? '127.0.0.1',
        agent: false,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }), ...o.headers },
      },
      (res) => {
        const close = (): void => {
          res.destroy();
          req.destroy();
        };
        if (o.stream === true && res.statusCode === 200) return resolve({ status: 200, headers: res.headers, body: '', close });
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, close }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

test('trust: the web surface under attack', { timeout: 180_000 }, async (t) => {
  const r: WebRoom = await startWebRoom({ web: { allowedHosts: ['laundry-gw.local'] } });
  try {
    await t.test('case 4: wrong tokens from 14 addresses lock out only those addresses; the right token from another keeps working', async () => {
      for (let a = 2; a <= 15; a++) {
        let last = 0;
        for (let i = 0; i < 11; i++) last = (await call(r.base, '/api/actions/block-card', { from: `127.0.1.${a}`, body: { uid: '0011223344' }, headers: bearer(`wrong-token-${i}-xxxxxxxx`) })).status;
        assert.equal(last, 429, `address 127.0.1.${a} is slowed down`);
      }
      const locked = await call(r.base, '/api/actions/block-card', { from: '127.0.1.2', body: { uid: '0011223344' }, headers: bearer('wrong-again-xxxxxxxxxx') });
      assert.equal(locked.status, 429);
      assert.match(locked.body, /from your address \(127\.0\.1\.2\)/);
      assert.ok(Number(locked.headers['retry-after']) > 0);
      // A clean address: a wrong token is a 401 (not "locked out"), the right one works.
      assert.equal((await call(r.base, '/api/actions/block-card', { from: '127.0.2.1', body: { uid: '0011223344' }, headers: bearer('wrong-token-clean-xxxxxx') })).status, 401);
      const ok = await call(r.base, '/api/actions/block-card', { from: '127.0.2.2', body: { uid: '0011223344' }, headers: bearer(OPERATOR_TOKEN) });
      assert.equal(ok.status, 200, ok.body);
    });

    await t.test('case 6: only IP literals, localhost and allowedHosts are answered, on every endpoint; a LAN listener is warned about', async () => {
      const port = new URL(r.base).port;
      for (const path of ['/', '/api/status', '/api/events', '/metrics', '/healthz']) {
        const evil = await call(r.base, path, { headers: { host: `rebind.evil.example:${port}` } });
        assert.equal(evil.status, 421, `${path} with a foreign Host`);
        assert.match(evil.body, /does not answer to the name/);
      }
      const post = await call(r.base, '/api/feedback', { headers: { host: 'rebind.evil.example' }, body: { message: 'from a rebound page' } });
      assert.equal(post.status, 421);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LAUNDRY-GW.local:${port}`, `[::1]:${port}`]) {
        assert.equal((await call(r.base, '/api/status', { headers: { host } })).status, 200, host);
      }
      const status = JSON.parse((await call(r.base, '/api/status')).body) as { warnings: string[] };
      assert.deepEqual(status.warnings, [], 'loopback: nothing to warn about');
    });

    await t.test('case 7: one client cannot take all the event streams', async () => {
      const open: Array<{ close(): void }> = [];
      try {
        for (let i = 0; i < 4; i++) {
          const s = await call(r.base, '/api/events', { from: '127.0.3.1', stream: true });
          assert.equal(s.status, 200);
          open.push(s);
        }
        const fifth = await call(r.base, '/api/events', { from: '127.0.3.1', stream: true });
        assert.equal(fifth.status, 429);
        assert.match(fifth.body, /at most 4 live pages/);
        const other = await call(r.base, '/api/events', { from: '127.0.3.2', stream: true });
        assert.equal(other.status, 200, 'another device still gets its page');
        open.push(other);
      } finally {
        for (const s of open) s.close();
      }
    });

    await t.test('case 7: seven addresses at their limit do not drain the room: a real customer gets through', async () => {
      for (let a = 1; a <= 7; a++) {
        let last = 0;
        for (let i = 0; i < 6; i++) last = (await call(r.base, '/api/feedback', { from: `127.0.4.${a}`, body: { message: `spam number ${i}` } })).status;
        assert.equal(last, 429);
      }
      const real = await call(r.base, '/api/feedback', { from: '127.0.4.99', body: { message: 'the dryer ate my sock' } });
      assert.equal(real.status, 202, real.body);
    });

    await t.test('case 5: 1 100 half-open connections from 40 addresses: status, actions and the fd count stay fine; refusals are counted', async () => {
      const fdsBefore = readdirSync('/proc/self/fd').length;
      const port = new URL(r.base).port;
      // Another process holds the connections, so this process's fds are the server's alone.
      const script = `
        const net = require('net'); const socks = []; let open = 0, closed = 0;
        for (let i = 0; i < 1100; i++) {
          const s = net.connect({ host: '127.0.0.1', port: ${port}, localAddress: '127.0.5.' + (1 + (i % 40)) });
          s.on('connect', () => { open++; });
          s.on('error', () => {}); s.on('close', () => { closed++; });
          socks.push(s);
        }
        // a handshake the full backlog dropped is retried by the kernel for seconds: report after 4 s
        setTimeout(() => process.stdout.write(JSON.stringify({ open, closed }) + '\\n'), 4000);
        setInterval(() => {}, 1000);`;
      const flood = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        const counts = await new Promise<string>((resolve) => flood.stdout.once('data', (d: Buffer) => resolve(d.toString())));
        t.diagnostic(`flood: ${counts.trim()}`);
        const fds = readdirSync('/proc/self/fd').length;
        assert.ok(fds - fdsBefore <= 300, `the flood holds ${fds - fdsBefore} fds of the server (cap 256)`);
        for (let i = 0; i < 3; i++) {
          const st = await call(r.base, '/api/status');
          assert.equal(st.status, 200);
        }
        const ok = await call(r.base, '/api/actions/block-card', { from: '127.0.6.1', body: { uid: '0011223345' }, headers: bearer(OPERATOR_TOKEN) });
        assert.equal(ok.status, 200, ok.body);
        const metrics = (await call(r.base, '/metrics')).body;
        const refused = (reason: string): number => Number(new RegExp(`laundry_web_connections_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
        assert.ok(refused('evicted') + refused('per_client') > 800, metrics.split('\n').filter((l) => l.includes('connections')).join('\n'));
        assert.ok(Number(/laundry_web_connections (\d+)/.exec(metrics)?.[1]) <= 256);
      } finally {
        flood.kill('SIGKILL');
      }
      await waitFor('flood sockets closed', () => readdirSync('/proc/self/fd').length <= fdsBefore + 10, 10_000);
    });
  } finally {
    await r.close();
  }
});

test('trust: a page listening beyond loopback warns on the page', { timeout: 60_000 }, async () => {
  const r = await startWebRoom({ web: { host: '0.0.0.0' } });
  try {
    const base = r.base.replace('0.0.0.0', '127.0.0.1');
    const status = JSON.parse((await call(base, '/api/status')).body) as { warnings: string[] };
    assert.equal(status.warnings.length, 1);
    assert.match(status.warnings[0] ?? '', /listens on 0\.0\.0\.0 over plain HTTP.*operator token crosses it in clear text/);
  } finally {
    await r.close();
  }
});

test('case 7: a 4-byte UID mask does not show half of it; a 7-byte one shows its last 4', () => {
  assert.equal(maskUid('04A1B2C3'), '******C3');
  assert.equal(maskUid('04A1B2C3D45E80'), '**********5E80');
  assert.equal(maskUid('0A0B0C0D0E'), '*******D0E');
  assert.equal(maskUid('ABCD'), '****');
});
