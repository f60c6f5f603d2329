// The stream rule as arithmetic (cloud/stream.ts): no ack past a hole, the watermark runs on
// through stored segments once the hole is filled, stand-alone batches, a new database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planStream, type BatchRange } from '../../cloud/stream.js';

const b = (after: number, from: number, to: number, ackedSeq = 0): BatchRange => ({ afterSeq: after, fromSeq: from, toSeq: to, ackedSeq });

test('stream: in order moves W and acks it; a batch after a hole is kept, not acked', () => {
  const s0 = { storedSeq: 0, segments: [] };
  const p1 = planStream(s0, [b(0, 1, 10)], 64);
  assert.deepEqual(p1, { next: { storedSeq: 10, segments: [] }, ackUpTo: 10, outOfStream: 0 });
  const p2 = planStream(p1.next, [b(20, 21, 30)], 64);
  assert.equal(p2.ackUpTo, null);
  assert.deepEqual(p2.next, { storedSeq: 10, segments: [{ after: 20, to: 30 }] });
});

test('stream: filling the hole runs W on through every stored segment it now touches', () => {
  const s = { storedSeq: 10, segments: [{ after: 30, to: 40 }, { after: 20, to: 30 }, { after: 50, to: 60 }] };
  const p = planStream(s, [b(10, 11, 20)], 64);
  assert.equal(p.ackUpTo, 40);
  assert.deepEqual(p.next, { storedSeq: 40, segments: [{ after: 50, to: 60 }] });
});

test('stream: a resend below W is acked again (the gateway waits for it); a stand-alone batch acks its toSeq', () => {
  assert.equal(planStream({ storedSeq: 50, segments: [] }, [b(10, 11, 20)], 64).ackUpTo, 50);
  assert.equal(planStream({ storedSeq: 0, segments: [] }, [{ fromSeq: 5, toSeq: 9 }], 64).ackUpTo, 9);
});

test('stream: a new database accepts the first batch after the gateway watermark (ackedSeq)', () => {
  const p = planStream({ storedSeq: 0, segments: [] }, [b(100, 101, 120, 100)], 64);
  assert.equal(p.ackUpTo, 120);
});

test('stream: segments are capped; the forgotten ones only cost a resend', () => {
  const s = { storedSeq: 0, segments: [] };
  const p = planStream(s, [b(10, 11, 20), b(30, 31, 40), b(50, 51, 60)], 2);
  assert.deepEqual(p.next.segments, [{ after: 10, to: 20 }, { after: 30, to: 40 }]);
  assert.equal(p.ackUpTo, null);
});

test('stream: whatever order a chain of batches arrives in, in whatever groups, W never passes a hole and ends at the end', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 12, maxLength: 12 }), (n, keys, sizes) => {
      const chain = Array.from({ length: n }, (_, i) => b(i * 10, i * 10 + 1, i * 10 + 10));
      const order = chain.map((c, i) => ({ c, k: keys[i] ?? 0 })).sort((x, y) => x.k - y.k).map((x) => x.c);
      let state = { storedSeq: 0, segments: [] as { after: number; to: number }[] };
      const arrived = new Set<number>();
      let i = 0;
      let g = 0;
      while (i < order.length) {
        const group = order.slice(i, i + (sizes[g++ % sizes.length] ?? 1));
        i += group.length;
        for (const x of group) arrived.add(x.toSeq);
        const p = planStream(state, group, 64);
        state = p.next;
        if (p.ackUpTo !== null) for (let t = 10; t <= p.ackUpTo; t += 10) assert.ok(arrived.has(t), `acked ${p.ackUpTo} without batch ending ${t}`);
      }
      assert.equal(state.storedSeq, n * 10);
      assert.deepEqual(state.segments, []);
    }),
  );
});
