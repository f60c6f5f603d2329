// The stream rule of docs/mqtt-contract.md as pure arithmetic, per gateway: which batches
// continue what the cloud holds without a hole, how far the watermark W moves, and what to ack.
// A batch that arrives after a hole (an earlier one still on its way to another worker, or lost)
// is stored and remembered as a segment (afterSeq, toSeq]; when the hole is filled, W runs on
// through every stored segment it now touches. So two workers holding batches of one gateway
// never ack past a hole, and neither waits for the gateway's resend when both batches did arrive.
// The caller holds the gateway's row lock (SELECT … FOR UPDATE) while it plans and commits.

export interface Segment {
  /** The records (after, to] were stored in a committed transaction. */
  after: number;
  to: number;
}

export interface StreamState {
  /** Every record at or below it is stored (or was dead-lettered by the gateway). */
  storedSeq: number;
  segments: Segment[];
}

export interface BatchRange {
  fromSeq: number;
  toSeq: number;
  afterSeq?: number;
  ackedSeq?: number;
}

export interface StreamPlan {
  next: StreamState;
  /** The watermark to ack after the commit, or null: nothing of these batches may be acked yet. */
  ackUpTo: number | null;
  /** Batches held back by a hole. */
  outOfStream: number;
}

/**
 * Applies the batches (as received) to the gateway's stream state. A batch without afterSeq
 * stands alone (a gateway with one batch in flight): it is acked up to its own toSeq at least.
 */
export function planStream(state: StreamState, batches: readonly BatchRange[], maxSegments: number): StreamPlan {
  let w = state.storedSeq;
  const segments = state.segments.map((s) => ({ ...s }));
  let continued = false;
  let outOfStream = 0;
  for (const b of batches) {
    const after = b.afterSeq;
    if (after === undefined || after <= Math.max(w, b.ackedSeq ?? 0)) {
      w = Math.max(w, b.toSeq);
      continued = true;
    } else {
      segments.push({ after, to: b.toSeq });
      outOfStream++;
    }
  }
  // Run on through the stored segments the watermark now reaches, as often as it moves.
  let moved = true;
  while (moved) {
    moved = false;
    for (const s of segments) {
      if (s.after <= w && s.to > w) {
        w = s.to;
        moved = true;
        continued = true;
      }
    }
  }
  const kept = segments.filter((s) => s.to > w).sort((a, b) => a.after - b.after || a.to - b.to);
  const unique = kept.filter((s, i) => i === 0 || s.after !== kept[i - 1]?.after || s.to !== kept[i - 1]?.to);
  // Beyond the cap the newest ranges are forgotten: their records stay stored (deduped later),
  // only the gateway's resend is then needed to move W past them.
  return { next: { storedSeq: w, segments: unique.slice(0, maxSegments) }, ackUpTo: continued ? w : null, outOfStream };
}
