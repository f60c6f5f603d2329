// Child process for the crash tests: works a real ledger file until the parent kills it with
// SIGKILL. Each fact is printed only after its transaction committed (stdout on a pipe is
// synchronous on Linux), so the parent can check that nothing reported was lost.
//   cardlist <path> <gatewayId> <secretHex>          apply one big full list (version 2)
//   vends    <path> <gatewayId> <secretHex> <seed>   vends, top-ups, snapshots, card diffs,
//                                                    declines, acks, dead letters, pruning, until killed
// With WAIT_FOR_GO=1 it loads its modules, then waits for a line on stdin before it opens the
// file: the parent starts the next child while it is still checking the last one.
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { openLedger, type Ledger } from '../../storage/index.js';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(3);
}

const [mode, path, gatewayId, secretHex, seedArg] = process.argv.slice(2);
if (mode === undefined || path === undefined || gatewayId === undefined || secretHex === undefined) fail('usage: crash-child <mode> <path> <gatewayId> <secretHex> [seed]');

if (process.env.WAIT_FOR_GO === '1') {
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
}

const ledger = openLedger({ path, gatewayId, roomSecret: Buffer.from(secretHex, 'hex'), bootId: randomUUID(), clock: systemClock, logger: silentLogger() });

if (mode === 'cardlist') {
  say('ready');
  const cards = Array.from({ length: 20000 }, (_, n) => ({ uid: `BB${String(n).padStart(6, '0')}`, accountId: 'new', status: 'active' as const }));
  ledger.applyCardList({ kind: 'full', version: 2, cards });
  say('done');
  ledger.close();
  process.exit(0);
}

const rnd = mulberry32(Number(seedArg ?? '1'));
const pick = <T,>(xs: readonly T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];
const ACCOUNTS = ['acct-a', 'acct-b', 'acct-c'];

function finish(l: Ledger, vendId: string, state: string): void {
  if (state === 'credit_sent' && rnd() < 0.6) {
    const amount = Math.floor(rnd() * 3) * 50;
    const v = l.getVend(vendId);
    const r = l.capture(vendId, { amountCents: Math.min(amount, v?.amountCents ?? 0) });
    if (!r.ok) fail(`capture refused: ${r.reason}`);
    say(`C ${vendId}`);
  } else {
    const r = l.refund(vendId, { reason: 'crash_test', amountCents: rnd() < 0.5 ? undefined : 0 });
    if (!r.ok) fail(`refund refused: ${r.reason}`);
    say(`R ${vendId}`);
  }
  // A second finish must always be refused.
  if (l.capture(vendId).ok || l.refund(vendId, { reason: 'again' }).ok) fail(`vend ${vendId} finished twice`);
}

// Start-up reconciliation, as the daemon would: every unfinished vend ends exactly once.
for (const v of ledger.unfinishedVends()) finish(ledger, v.vendId, v.state);
say('ready');

const open: Array<{ vendId: string; state: 'held' | 'credit_sent' }> = [];
const usedTokens: string[] = [];
const deadline = Date.now() + 20000;
while (Date.now() < deadline) {
  const r = rnd();
  if (r < 0.3) {
    const acct = pick(ACCOUNTS) ?? 'acct-a';
    const h = ledger.hold({ method: 'card', funding: 'account', machineId: `W${Math.floor(rnd() * 4)}`, amountCents: 50 + Math.floor(rnd() * 4) * 50, accountId: acct, cardUid: '04A2B9C1D25E80', floorCents: -500, ruleSetVersion: 'rs-1', ruleId: 'std' });
    if (h.ok) {
      open.push({ vendId: h.vendId, state: 'held' });
      say(`H ${h.vendId}`);
    } else say(`D ${h.outcome}`);
  } else if (r < 0.4) {
    const replay = usedTokens.length > 0 && rnd() < 0.3;
    const tokenId = replay ? (pick(usedTokens) ?? '00') : randomUUID().replace(/-/g, '').slice(0, 16);
    const h = ledger.hold({ method: 'qr', funding: 'token', machineId: 'D1', amountCents: 300, tokenId, tokenExpiresAt: Math.floor(Date.now() / 1000) + 600, tokenAmountCents: 300, ruleSetVersion: 'rs-1', ruleId: 'qr' });
    if (h.ok) {
      if (replay) fail('a replayed token was accepted');
      usedTokens.push(tokenId);
      open.push({ vendId: h.vendId, state: 'held' });
      say(`H ${h.vendId}`);
    } else if (h.outcome !== 'replayed' || !replay) fail(`token hold refused: ${h.outcome}`);
  } else if (r < 0.55) {
    const v = open.find((x) => x.state === 'held');
    if (v) {
      if (!ledger.markCreditSent(v.vendId, { seq: Math.floor(rnd() * 65535) + 1 }).ok) fail('markCreditSent refused');
      v.state = 'credit_sent';
      say(`S ${v.vendId}`);
    }
  } else if (r < 0.75) {
    const i = Math.floor(rnd() * open.length);
    const v = open[i];
    if (v) {
      open.splice(i, 1);
      finish(ledger, v.vendId, v.state);
    }
  } else if (r < 0.82) {
    const cloudId = `tu-${Math.floor(rnd() * 40)}`;
    const accountId = pick(ACCOUNTS) ?? 'acct-a';
    // Booked by the cloud after the last snapshot of the account, as a fresh top-up is.
    const accountVersion = (ledger.balance(accountId)?.snapshotVersion ?? 0) + 1;
    const res = ledger.applyTopUp({ cloudId, accountId, amountCents: 500, accountVersion });
    if (res.applied) say(`T ${cloudId}`);
  } else if (r < 0.88) {
    ledger.recordDecline({ method: 'card', reason: 'card_blocked', machineId: 'W0', cardUid: '0A1B2C3D' });
  } else if (r < 0.90) {
    ledger.enqueueEvent('machine.state', { machineId: 'W1', state: 'running' });
  } else if (r < 0.91) {
    // The cloud's view: a snapshot covering everything sent so far, at the balance we derive.
    const acct = pick(ACCOUNTS) ?? 'acct-a';
    const b = ledger.balance(acct);
    const version = (b?.snapshotVersion ?? 0) + 1;
    const res = ledger.applyAccountSnapshot({ accountId: acct, version, balanceCents: b?.balanceCents ?? 0, points: b?.points ?? 0, tier: 'std', coveredSeq: ledger.outbox.stats().lastSeq });
    if (!res.applied) fail('a newer snapshot was not applied');
    if (ledger.balance(acct)?.balanceCents !== (b?.balanceCents ?? 0)) fail('a covering snapshot changed the balance');
    say(`P ${acct}:${version}`);
  } else if (r < 0.915) {
    // The cloud catches up (everything acked, covering snapshots), then settled history goes.
    say('Q');
    const last = ledger.outbox.stats().lastSeq;
    ledger.outbox.ack(last);
    for (const acct of ACCOUNTS) {
      const b = ledger.balance(acct);
      ledger.applyAccountSnapshot({ accountId: acct, version: (b?.snapshotVersion ?? 0) + 1, balanceCents: b?.balanceCents ?? 0, points: b?.points ?? 0, tier: 'std', coveredSeq: last });
      if (ledger.balance(acct)?.balanceCents !== (b?.balanceCents ?? 0)) fail('a covering snapshot changed the balance');
    }
    const before = ACCOUNTS.map((a) => ledger.balance(a)?.balanceCents ?? 0);
    ledger.pruneHistory({ beforeMs: Date.now() + 1 });
    if (ACCOUNTS.some((a, i) => (ledger.balance(a)?.balanceCents ?? 0) !== before[i])) fail('pruning changed a balance');
  } else if (r < 0.92) {
    const base = ledger.cardListVersion();
    const uid = `CC${String(Math.floor(rnd() * 50)).padStart(6, '0')}`;
    const res = ledger.applyCardList({ kind: 'diff', version: base + 1, baseVersion: base, cards: [rnd() < 0.7 ? { uid, accountId: pick(ACCOUNTS) ?? 'acct-a', status: 'active' } : { uid, remove: true }] });
    if (!res.ok) fail(`card diff refused: ${res.reason}`);
    say(`L ${base + 1}`);
  } else if (r < 0.97) {
    const batch = ledger.outbox.nextBatch({ maxCount: 20, maxBytes: 64 * 1024 });
    const lastRec = batch.records.at(-1);
    if (lastRec) {
      // As the cloud does: the heads the batch carried come back with the ack (the anchors verify proves).
      ledger.outbox.ack(lastRec.seq, { audit: batch.auditHead, money: batch.moneyHead });
      say(`A ${lastRec.seq}`);
    }
  } else {
    const batch = ledger.outbox.nextBatch({ maxCount: 2, maxBytes: 64 * 1024 });
    const first = batch.records[0];
    if (first && rnd() < 0.3) {
      ledger.outbox.deadLetter([first.seq], 'rejected by the cloud in a crash test');
      say(`X ${first.seq}`);
    }
  }
}
ledger.close();
process.exit(0);
