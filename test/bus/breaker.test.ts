import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from '../../gateway/bus/breaker.js';
import { Backoff } from '../../gateway/bus/backoff.js';

function fakeClock(): { monotonic: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { monotonic: () => t, advance: (ms) => (t += ms) };
}

test('breaker opens after N consecutive failures and a success in between resets the count', () => {
  const clock = fakeClock();
  const b = new CircuitBreaker({ failureThreshold: 3, probeInitialMs: 100, probeMaxMs: 1000 }, clock);
  assert.equal(b.onFailure(), null);
  assert.equal(b.onFailure(), null);
  assert.equal(b.onSuccess(), null);
  assert.equal(b.consecutiveFailures, 0);
  b.onFailure();
  b.onFailure();
  assert.deepEqual(b.onFailure(), { to: 'open', consecutiveFailures: 3, retryInMs: 100 });
  assert.equal(b.state(), 'open');
  assert.equal(b.allow(), false);
});

test('half-open probes back off exponentially up to the cap, and a success closes the breaker', () => {
  const clock = fakeClock();
  const b = new CircuitBreaker({ failureThreshold: 1, probeInitialMs: 100, probeMaxMs: 350 }, clock);
  b.onFailure();
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = b.retryInMs();
    waits.push(w);
    clock.advance(w - 1);
    assert.equal(b.allow(), false, 'still open just before the probe time');
    clock.advance(1);
    assert.equal(b.state(), 'half-open');
    assert.equal(b.allow(), true);
    assert.equal(b.onFailure(), null, 'a failed probe is no new transition');
  }
  assert.deepEqual(waits, [100, 200, 350, 350]);
  clock.advance(350);
  assert.equal(b.allow(), true);
  const t = b.onSuccess();
  assert.equal(t?.to, 'closed');
  assert.equal(b.state(), 'closed');
  // reopening starts from the initial wait again
  assert.deepEqual(b.onFailure(), { to: 'open', consecutiveFailures: 1, retryInMs: 100 });
});

test('reconnect backoff doubles, is capped, never comes early, and resets', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
  const j = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999);
  assert.ok(j.next() >= 100 && j.next() <= 240);
});
