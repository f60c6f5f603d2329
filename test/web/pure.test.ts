// The pure pieces: the Prometheus formatter (escaping, histograms) checked by the test parser,
// the token buckets on a driven clock, the fault panel text, the token comparison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMetrics } from '../../gateway/web/prometheus.js';
import { RateLimiter } from '../../gateway/web/rate-limit.js';
import { faultView } from '../../gateway/web/fault-text.js';
import { tokenMatches } from '../../gateway/web/http.js';
import { webConfigSchema } from '../../gateway/web/config-schema.js';
import { feedbackBodySchema } from '../../gateway/web/feedback.js';
import { parsePrometheus } from './prom-parser.js';

test('label values with quotes, backslashes and newlines survive a round trip', () => {
  const nasty = 'a "quoted" \\ back\nslash';
  const text = formatMetrics([
    { name: 'x_total', help: 'help with \\ and\nnewline', type: 'counter', samples: [{ labels: { reason: nasty }, value: 3 }] },
    { name: 'y', help: 'gauge', type: 'gauge', samples: [{ value: 0.5 }, { labels: { a: 'b' }, value: Infinity }] },
  ]);
  const fams = parsePrometheus(text);
  assert.equal(fams.get('x_total')?.samples[0]?.labels.reason, nasty);
  assert.equal(fams.get('y')?.samples[1]?.value, Infinity);
  assert.doesNotThrow(() => formatMetrics([{ name: 'ok_name:sub', help: 'h', type: 'gauge', samples: [] }]));
  assert.throws(() => formatMetrics([{ name: 'bad-name', help: 'h', type: 'gauge', samples: [] }]));
  assert.throws(() => formatMetrics([{ name: 'g', help: 'h', type: 'gauge', samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] }]));
});

test('a histogram has ascending le, cumulative counts and +Inf equal to _count', () => {
  const text = formatMetrics([
    { name: 'lat_seconds', help: 'h', type: 'histogram', series: [{ labels: { unit: '1' }, bounds: [0.005, 0.01, 0.02], cumulative: [1, 4, 4, 6], sum: 0.09 }] },
  ]);
  const f = parsePrometheus(text).get('lat_seconds');
  assert.deepEqual(
    f?.samples.filter((s) => s.name === 'lat_seconds_bucket').map((s) => [s.labels.le, s.value]),
    [['0.005', 1], ['0.01', 4], ['0.02', 4], ['+Inf', 6]],
  );
  assert.equal(f?.samples.find((s) => s.name === 'lat_seconds_count')?.value, 6);
  assert.throws(() => parsePrometheus(text.replace('lat_seconds_count{unit="1"} 6', 'lat_seconds_count{unit="1"} 7')), /\+Inf bucket/);
});

test('token buckets: per client, then global, refilling with the clock', () => {
  let now = 0;
  const clock = { now: () => now, monotonic: () => now };
  const rl = new RateLimiter({ perClient: { capacity: 2, refillMs: 1000 }, global: { capacity: 3, refillMs: 3000 }, clock });
  assert.deepEqual([rl.admit('a').ok, rl.admit('a').ok], [true, true]);
  const third = rl.admit('a');
  assert.equal(third.ok, false);
  assert.equal(third.ok === false && third.scope, 'client');
  assert.equal(rl.admit('b').ok, true);
  const global = rl.admit('c');
  assert.equal(global.ok === false && global.scope, 'global');
  assert.equal(rl.admit('b', { peek: true }).ok, false);
  now += 1000;
  assert.equal(rl.admit('c').ok, true);
  // Many addresses do not grow memory without bound.
  const many = new RateLimiter({ perClient: { capacity: 1, refillMs: 1000 }, global: { capacity: 1e6, refillMs: 1000 }, clock, maxClients: 10 });
  for (let i = 0; i < 100; i++) many.admit(`10.0.0.${i}`);
  assert.ok((many as unknown as { perKey: Map<string, unknown> }).perKey.size <= 10);
});

test('fault codes read as the panel shows them', () => {
  assert.deepEqual(faultView(1), { code: 1, panel: 'E01', text: 'no water inlet' });
  assert.deepEqual(faultView(8), { code: 8, panel: 'E08', text: 'lint filter blocked' });
  assert.equal(faultView(42)?.panel, 'E42');
  assert.equal(faultView(0), null);
  assert.equal(faultView(null), null);
});

test('token comparison, web config and feedback schemas', () => {
  assert.equal(tokenMatches('abcdefghijklmnop', 'abcdefghijklmnop'), true);
  assert.equal(tokenMatches('abcdefghijklmnoq', 'abcdefghijklmnop'), false);
  assert.equal(tokenMatches('short', 'abcdefghijklmnop'), false);
  assert.deepEqual(webConfigSchema.parse({}), {
    host: '127.0.0.1',
    port: 8080,
    allowedHosts: [],
    maxConnections: 256,
    maxConnectionsPerClient: 32,
    maxEventStreams: 50,
    maxEventStreamsPerClient: 4,
  });
  assert.equal(webConfigSchema.safeParse({ operatorToken: 'too-short' }).success, false);
  // Issue 13 case 7: a token that no Authorization header can carry is refused at load, with why.
  const spaced = webConfigSchema.safeParse({ operatorToken: 'correct horse battery staple' });
  assert.equal(spaced.success, false);
  assert.match(spaced.error?.issues[0]?.message ?? '', /cannot be sent as a bearer token/);
  assert.equal(webConfigSchema.safeParse({ operatorToken: 'Zm9vYmFyYmF6cXV4LTAxMjM0NTY3OA==' }).success, true);
  assert.equal(webConfigSchema.safeParse({ extra: 1 }).success, false);
  assert.deepEqual(feedbackBodySchema.parse({ message: '  it leaks  ' }), { machineId: null, message: 'it leaks' });
  assert.equal(feedbackBodySchema.safeParse({ message: 'bell \u0007 char' }).success, false);
  assert.equal(feedbackBodySchema.safeParse({ message: 'ok text', contact: 'x'.repeat(201) }).success, false);
});
