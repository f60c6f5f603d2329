// Issue 19: what a secure tap adds to a swipe, two ways in one run. End to end: the swipe bench's
// rig (lib-vend.ts: the whole daemon, readers on socat ptys, the ledger on the repository disk)
// with a type S reader at every second machine, one customer at a time, so secure taps and plain
// swipes alternate: reader line written → CREDIT frame at the simulator, p50 and p99 of each
// beside each other. Then the part that differs, alone, on a real ledger file: the gate's
// admission (SUN verification with the AES work, and the ledger read of the card's facts)
// against a plain UID's, and a hold that spends the counter against one that does not; the end
// to end p99s differ by the noise of two fsync'd commits, the parts show where the time goes.
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../gateway/core/log.js';
import { SecureCardGate } from '../../gateway/secure-cards/gate.js';
import { encodeSunUri } from '../../protocols/secure-card/index.js';
import { openLedger } from '../../storage/index.js';
import { systemClock } from '../../gateway/core/clock.js';
import { SPEC_KEYS } from '../secure-card/vectors.js';
import { ascending, loadNote, numParam, percentile, round } from './lib-stats.js';
import { artifactsDir, startVendRig } from './lib-vend.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';

const SECURE_UID = '04A2B9C1D25E80';
const PLAIN_UID = '04B7C2D3E4F501';

const q = (xs: number[]): { p50: number; p99: number } => {
  const s = ascending(xs);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
};

/** Swipe → CREDIT frame through the daemon, secure taps and plain swipes alternating. */
async function endToEnd(opts: BenchOptions): Promise<{ figures: Figure[]; notes: string[] }> {
  const vends = numParam(opts, 'vends', 1000, 100);
  const machines = numParam(opts, 'machines', 24, 24);
  const maxSeconds = numParam(opts, 'maxSeconds', 900, 90);
  const tmp = artifactsDir('bench-secure-e2e-');
  try {
    const rig = await startVendRig({ dbPath: `${tmp.dir}/ledger.db`, machines, gapMs: 5500, secure: { keyFile: `${tmp.dir}/secure-card-keys.json` } });
    try {
      opts.log(`secure-tap: ${vends} swipes, one customer at a time, over ${machines} machines (every second one a type S reader)`);
      const r = await rig.swipes(vends, maxSeconds, 1);
      const sec = q(r.secureSamples);
      const plain = q(r.samples);
      const added = sec.p99 - plain.p99;
      opts.log(`secure-tap: secure p50 ${sec.p50.toFixed(1)} / p99 ${sec.p99.toFixed(1)} ms; plain p50 ${plain.p50.toFixed(1)} / p99 ${plain.p99.toFixed(1)} ms`);
      const other = [...r.other].map(([k, n]) => `${k} × ${n}`).join(', ') || 'none';
      return {
        figures: [
          { label: `swipe → CREDIT frame, secure tap (type S) p50 (${r.secureSamples.length} vends)`, value: round(sec.p50, 1), unit: 'ms' },
          { label: `swipe → CREDIT frame, secure tap (type S) p99`, value: round(sec.p99, 1), unit: 'ms' },
          { label: `swipe → CREDIT frame, plain card (type L) p50 (${r.samples.length} vends)`, value: round(plain.p50, 1), unit: 'ms' },
          { label: `swipe → CREDIT frame, plain card (type L) p99`, value: round(plain.p99, 1), unit: 'ms' },
          { label: 'added to the swipe → CREDIT p99 by a secure tap (secure p99 − plain p99, same run)', value: round(added, 1), unit: 'ms', target: '≤ 2 ms', pass: added <= 2 },
        ],
        notes: [`end to end: the swipe bench's rig with a type S reader at every second of ${machines} machines; secure and plain alternate (the next idle machine in turn); not captured (retried): ${other}; ${r.seconds.toFixed(1)} s`],
      };
    } finally {
      await rig.close();
    }
  } finally {
    tmp.cleanup();
  }
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const e2e = await endToEnd(opts);
  const taps = numParam(opts, 'taps', 5000, 500);
  const tmp = artifactsDir('bench-secure-');
  const ledger = openLedger({ path: `${tmp.dir}/ledger.db`, roomSecret: Buffer.alloc(32, 3), gatewayId: 'bench', bootId: 'b1', clock: systemClock, logger: silentLogger() });
  try {
    const cards = [{ uid: SECURE_UID, accountId: 'a', status: 'active' as const, secure: true }, { uid: PLAIN_UID, accountId: 'b', status: 'active' as const }];
    ledger.applyCardList({ kind: 'full', version: 1, cards });
    // Three live key versions, the card's the oldest: the worst case a rotation brings.
    const older = { ...SPEC_KEYS, version: 1 };
    const keys = [older, { ...SPEC_KEYS, version: 2, metaKey: Buffer.alloc(16, 0x21) }, { ...SPEC_KEYS, version: 3, metaKey: Buffer.alloc(16, 0x42) }];
    const gate = new SecureCardGate({ ledger, keys: () => keys, policy: { refusePlainCards: false }, logger: silentLogger() });
    const lines = Array.from({ length: taps }, (_, i) => encodeSunUri({ ...older, uid: SECURE_UID, counter: i + 1 }));
    const admitSecure: number[] = [];
    const admitPlain: number[] = [];
    const holdSecure: number[] = [];
    const holdPlain: number[] = [];
    const base = { method: 'card' as const, funding: 'none' as const, machineId: 'W1', amountCents: 0, ruleSetVersion: 'rs', ruleId: 'bench' };
    opts.log(`secure-tap: ${taps} secure and ${taps} plain admissions and holds, alternating`);
    for (let i = 0; i < taps; i++) {
      let t = performance.now();
      const s = gate.admitSun({ readerId: 'r1', machineId: 'W1', text: lines[i] ?? '' });
      admitSecure.push(performance.now() - t);
      if (!s.admitted || s.sunCounter === null) throw new Error(`secure tap ${i} not admitted`);
      t = performance.now();
      const p = gate.admitPlain({ readerId: 'r2', machineId: 'W2', uid: PLAIN_UID });
      admitPlain.push(performance.now() - t);
      if (!p.admitted) throw new Error('plain tap not admitted');
      t = performance.now();
      if (!ledger.hold({ ...base, cardUid: s.uid, sunCounter: s.sunCounter }).ok) throw new Error('secure hold refused');
      holdSecure.push(performance.now() - t);
      t = performance.now();
      if (!ledger.hold({ ...base, machineId: 'W2', cardUid: p.uid }).ok) throw new Error('plain hold refused');
      holdPlain.push(performance.now() - t);
    }
    const as = q(admitSecure);
    const ap = q(admitPlain);
    const hs = q(holdSecure);
    const hp = q(holdPlain);
    const added = as.p99 - ap.p99 + Math.max(0, hs.p99 - hp.p99);
    const figures: Figure[] = [
      ...e2e.figures,
      { label: 'admission, secure tap (3 key versions) p50', value: round(as.p50, 3), unit: 'ms' },
      { label: 'admission, secure tap (3 key versions) p99', value: round(as.p99, 3), unit: 'ms' },
      { label: 'admission, plain UID p50', value: round(ap.p50, 3), unit: 'ms' },
      { label: 'admission, plain UID p99', value: round(ap.p99, 3), unit: 'ms' },
      { label: 'hold spending the counter p50', value: round(hs.p50, 2), unit: 'ms' },
      { label: 'hold spending the counter p99', value: round(hs.p99, 2), unit: 'ms' },
      { label: 'hold without a counter p50', value: round(hp.p50, 2), unit: 'ms' },
      { label: 'hold without a counter p99', value: round(hp.p99, 2), unit: 'ms' },
      { label: 'the parts: added to a swipe p99 by a secure tap (admission + hold, measured alone)', value: round(added, 3), unit: 'ms', target: '≤ 2 ms', pass: added <= 2 },
    ];
    return {
      name: 'secure-tap',
      figures,
      notes: [
        ...e2e.notes,
        'the parts: what differs for a secure tap, alone, on a real ledger file (synchronous=FULL), secure and plain alternating',
        loadNote(),
      ],
    };
  } finally {
    ledger.close();
    tmp.cleanup();
  }
}

const bench: BenchModule = { name: 'secure-tap', title: 'what a secure tap adds to a swipe', run };
export default bench;
