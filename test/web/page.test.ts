// The status page in real headless Chromium against a real Daemon polling the simulated room:
// it loads under its CSP without errors, counts a running machine down without a reload, shows
// a new alert live, refuses an action with a wrong token and does it with the right one, sends a
// problem report and shows the rate limit. Leaves screenshots in test-artifacts/;
// UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/img/status-page.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { OPERATOR_TOKEN, startCycle, startWebRoom, waitFor, type WebRoom } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = `${ROOT}test-artifacts`;
let r: WebRoom;
let browser: Browser;
let page: Page;
const problems: string[] = [];

before(async () => {
  r = await startWebRoom({ timeScale: 10 });
  await startCycle(r, 'W1', 1, 2);
  r.room.control.injectFault(8, 1);
  r.room.control.setDoor(3, true);
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Refused actions and the rate limit are answered with 4xx/5xx on purpose; Chromium logs each.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  await page.goto(r.base);
});

after(async () => {
  await browser?.close();
  await r?.close();
});

function seconds(text: string): number {
  const parts = text.trim().split(':').map(Number);
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}

test('the page loads live, with every machine and no script or CSP error', async () => {
  await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('[data-machine]').count(), 16);
  assert.equal(await page.locator('#room').textContent(), 'Demo laundry room');
  await page.locator('[data-machine="W8"] [data-fault="E01"]', { hasText: 'no water inlet' }).waitFor({ timeout: 20_000 });
  await page.locator('[data-machine="W3"] .door', { hasText: 'door open' }).waitFor({ timeout: 20_000 });
  await page.locator('#buses tr[data-unit="20"]').waitFor();
  assert.equal(await page.locator('#vends tr').count(), 1);
  assert.match((await page.locator('#vends td.card').first().textContent()) ?? '', /^\*+5E80$/);
  const html = await page.content();
  for (const c of DEMO_CARDS) assert.ok(!html.includes(c.uid));
  assert.deepEqual(problems, []);
});

test('a running machine counts down without a reload', async () => {
  const remaining = page.locator('[data-machine="W1"] [data-remaining]');
  await waitFor('W1 remaining shown', async () => /\d+:\d\d/.test((await remaining.textContent()) ?? ''));
  const first = seconds((await remaining.textContent()) ?? '');
  const navigations: string[] = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  await waitFor('W1 remaining to go down', async () => seconds((await remaining.textContent()) ?? '') < first);
  assert.deepEqual(navigations, []);
});

test('between updates the page counts down by itself', async () => {
  // A stream that sends one snapshot and then nothing: every second lost is the page's own doing.
  const status = (await (await fetch(`${r.base}/api/status`)).json()) as { machines: { machineId: string; status: string; remainingSec: number | null }[] };
  for (const m of status.machines) if (m.machineId === 'W2') Object.assign(m, { status: 'running', remainingSec: 125 });
  const quiet = await browser.newPage();
  try {
    await quiet.route('**/api/events', (route) =>
      route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: `retry: 600000\n\nevent: status\ndata: ${JSON.stringify(status)}\n\n` }),
    );
    await quiet.goto(r.base);
    const remaining = quiet.locator('[data-machine="W2"] [data-remaining]');
    await waitFor('W2 shown with 2:05 or less', async () => /^2:0[0-5]$/.test((await remaining.textContent()) ?? ''));
    await waitFor('W2 counted down by the page', async () => seconds((await remaining.textContent()) ?? '') <= 123);
  } finally {
    await quiet.close();
  }
});

test('a new alert appears without a reload', async () => {
  r.daemon.ledger.appendAlert({ code: 'page_test_alert', message: 'raised by the page test', machineId: 'W5' });
  const li = page.locator('#alerts li[data-code="page_test_alert"]');
  await li.waitFor({ timeout: 20_000 });
  assert.match((await li.textContent()) ?? '', /W5 — raised by the page test/);
});

test('declines are counted by reason in /metrics and on the page, secure-card declines among them', async () => {
  r.daemon.ledger.recordDecline({ method: 'card', reason: 'clone_suspected', machineId: 'W5', cardUid: DEMO_CARDS[1].uid, detail: { readerId: 'page-test' } });
  r.daemon.ledger.recordDecline({ method: 'card', reason: 'bad_mac', machineId: 'W5', detail: { readerId: 'page-test' } });
  await waitFor('the declines in /metrics', async () => {
    const m = await (await fetch(`${r.base}/metrics`)).text();
    return /laundry_vend_declines_total\{reason="clone_suspected"\} 1\b/.test(m) && /laundry_vend_declines_total\{reason="bad_mac"\} 1\b/.test(m);
  });
  const fresh = await browser.newPage();
  try {
    await fresh.goto(r.base);
    const line = fresh.locator('#declines', { hasText: 'clone_suspected × 1' });
    await line.waitFor({ timeout: 20_000 });
    assert.match((await line.textContent()) ?? '', /^Declined since start: .*bad_mac × 1.*clone_suspected × 1/);
  } finally {
    await fresh.close();
  }
});

test('an action with a wrong token is refused; with the operator token it is done', async () => {
  const uid = DEMO_CARDS[2].uid;
  await page.fill('#op-token', 'definitely-not-the-token');
  await page.click('#op-use');
  await page.fill('#block-uid', uid);
  await page.click('#block-btn');
  await page.locator('#op-result', { hasText: 'refused (401)' }).waitFor({ timeout: 10_000 });
  assert.equal(r.daemon.ledger.lookupCard(uid)?.status, 'active');
  await page.locator('#alerts li[data-code="web_action_refused"]').first().waitFor({ timeout: 10_000 });

  await page.fill('#op-token', OPERATOR_TOKEN);
  await page.click('#op-use');
  await page.fill('#block-uid', uid);
  await page.click('#block-btn');
  await page.locator('#op-result', { hasText: 'block-card: done' }).waitFor({ timeout: 10_000 });
  assert.equal(r.daemon.ledger.lookupCard(uid)?.status, 'blocked');
  assert.match((await page.locator('#op-result').textContent()) ?? '', /\*+0516/);
  // Every action the gateway can do is offered to the operator.
  assert.equal(await page.locator('[data-machine="W8"] button[data-action="clear-fault"]').isDisabled(), false);
  assert.equal(await page.locator('#vends button[data-action="refund"]').first().isDisabled(), false);
});

test('a problem report is sent from the form, listed live, and the rate limit is shown', async () => {
  await page.selectOption('#fb-machine', 'W6');
  await page.fill('#fb-message', 'Machine smells of burning <b>rubber</b>');
  await page.fill('#fb-contact', 'guest@example.org');
  await page.click('#fb-send');
  await page.locator('#fb-result', { hasText: 'Thank you' }).waitFor({ timeout: 10_000 });
  const item = page.locator('#feedback-list li', { hasText: 'burning' });
  await item.waitFor({ timeout: 10_000 });
  // Shown as text, never as markup.
  assert.equal(await page.locator('#feedback-list b').count(), 0);
  assert.match((await item.textContent()) ?? '', /W6 — Machine smells of burning <b>rubber<\/b> \(contact left\)/);
  await page.evaluate('window.scrollTo(0, 0)'); // tsconfig has no DOM lib: browser code as a string
  await page.screenshot({ path: `${ARTIFACTS}/status-page.png`, fullPage: true });

  let limited = false;
  for (let i = 0; i < 6 && !limited; i++) {
    await page.fill('#fb-message', `report ${i} from the same phone`);
    await page.click('#fb-send');
    await page.locator('#fb-send:not([disabled])').waitFor();
    limited = /too many reports/.test((await page.locator('#fb-result').textContent()) ?? '');
  }
  assert.ok(limited, 'the form shows the rate limit');
  assert.deepEqual(problems, []);
});

test('on a phone-sized screen the page does not scroll sideways', async () => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  try {
    await phone.goto(r.base);
    await phone.locator('#live', { hasText: 'live' }).waitFor({ timeout: 20_000 });
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
    await phone.screenshot({ path: `${ARTIFACTS}/status-page-phone.png`, fullPage: false });
  } finally {
    await phone.close();
  }
  // The committed copy for the docs changes only when asked, so a test run leaves git clean.
  if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
    mkdirSync(`${ROOT}docs/img`, { recursive: true });
    copyFileSync(`${ARTIFACTS}/status-page.png`, `${ROOT}docs/img/status-page.png`);
  }
});
