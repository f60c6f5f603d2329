// The status page: one self-contained HTML document (the room may have no internet), usable on
// a phone. Styles and script carry the per-response CSP nonce; all data is put in with
// textContent, so nothing a customer types can become markup.
import { PAGE_SCRIPT } from './page-script.js';

const STYLE = `
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2430;--muted:#5d6778;--line:#dde1e7;--ok:#1c7c3c;--warn:#a86200;--bad:#b3261e;--run:#1f5fbf;--idle:#5d6778}
*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{position:sticky;top:0;z-index:2;background:#1d2430;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
header h1{font-size:1.1rem;margin:0;flex:1 1 auto}
.pill{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;font-weight:600;background:#e7eaef;color:var(--ink)}
.pill.ok{background:#d7f0de;color:var(--ok)}.pill.warn{background:#fbe8cc;color:var(--warn)}.pill.bad{background:#f8d9d6;color:var(--bad)}.pill.run{background:#dce8fb;color:var(--run)}
main{padding:.75rem;max-width:1200px;margin:0 auto}
section{margin:0 0 1rem}h2{font-size:1rem;margin:.5rem 0;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:.6rem}
.machine{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--idle);border-radius:8px;padding:.55rem .65rem}
.machine.s-running{border-left-color:var(--run)}.machine.s-fault,.machine.s-offline{border-left-color:var(--bad)}.machine.s-done,.machine.s-credited{border-left-color:var(--ok)}.machine.s-service,.machine.s-paused{border-left-color:var(--warn)}
.machine .top{display:flex;justify-content:space-between;align-items:baseline;gap:.3rem}.machine .id{font-weight:700;font-size:1.1rem}
.machine .remaining{font-size:1.6rem;font-variant-numeric:tabular-nums;font-weight:700;margin:.15rem 0}
.machine .remaining.word{font-size:1.1rem;color:var(--muted);font-weight:600;min-height:2.2rem;display:flex;align-items:center}
.machine .line{color:var(--muted);font-size:.85rem}.machine .fault{color:var(--bad);font-weight:600}
.machine .ops{display:none;gap:.3rem;margin-top:.35rem;flex-wrap:wrap}body.operator .machine .ops{display:flex}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem .75rem;overflow-x:auto}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:.6rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);white-space:nowrap}th{color:var(--muted);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
ul.feed{list-style:none;margin:0;padding:0;max-height:320px;overflow-y:auto}ul.feed li{padding:.35rem 0;border-bottom:1px solid var(--line);font-size:.88rem}ul.feed .when{color:var(--muted);font-size:.78rem;margin-right:.4rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.15rem .8rem;margin:0;font-size:.9rem}dt{color:var(--muted)}dd{margin:0}
form{display:grid;gap:.45rem}label{font-size:.85rem;color:var(--muted);display:grid;gap:.15rem}
input,select,textarea,button{font:inherit;padding:.45rem .55rem;border:1px solid var(--line);border-radius:6px;background:#fff;color:var(--ink)}
textarea{min-height:4.5rem;resize:vertical}button{background:#1f5fbf;color:#fff;border:0;font-weight:600;cursor:pointer}button.small{padding:.2rem .5rem;font-size:.8rem}button.ghost{background:#e7eaef;color:var(--ink)}button:disabled{opacity:.45;cursor:not-allowed}
.warnings{margin:0;padding:0;list-style:none}.warnings li{background:#fbe8cc;color:var(--warn);padding:.4rem .6rem;border-radius:6px;margin:.3rem 0}
.msg{font-size:.88rem;min-height:1.2em}.msg.ok{color:var(--ok)}.msg.bad{color:var(--bad)}
.opOnly{display:none}body.operator .opOnly{display:revert}
`;

const BODY = `
<header><h1 id="room">Laundry room</h1><span id="live" class="pill warn">connecting…</span><span id="clock" class="pill">clock ?</span><span id="uplink" class="pill">uplink ?</span></header>
<main>
<ul id="warnings" class="warnings" role="alert"></ul>
<section><h2>Machines</h2><div id="machines" class="grid"></div></section>
<section class="cols">
 <div><h2>Alerts</h2><div class="panel"><ul id="alerts" class="feed"></ul><p id="declines" class="when"></p></div></div>
 <div><h2>Problem reports</h2><div class="panel"><ul id="feedback-list" class="feed"></ul></div></div>
</section>
<section><h2>Recent transactions</h2><div class="panel"><table><thead><tr><th>time</th><th>machine</th><th>method</th><th>card</th><th class="num">amount</th><th>state</th><th class="opOnly"></th></tr></thead><tbody id="vends"></tbody></table></div></section>
<section class="cols">
 <div><h2>Uplink and clock</h2><div class="panel"><dl id="system"></dl></div></div>
 <div><h2>Report a problem</h2><div class="panel"><form id="feedback-form">
  <label>Machine<select id="fb-machine" name="machineId"><option value="">the room in general</option></select></label>
  <label>What happened?<textarea id="fb-message" name="message" maxlength="1000" required></textarea></label>
  <label>Contact (optional: e-mail or phone, only staff see it)<input id="fb-contact" name="contact" maxlength="200" autocomplete="email"></label>
  <button type="submit" id="fb-send">Send report</button><div id="fb-result" class="msg" role="status"></div>
 </form></div></div>
</section>
<section><h2>Bus health</h2><div class="panel"><table><thead><tr><th>bus</th><th>unit</th><th>machines</th><th class="num">last ms</th><th class="num">avg ms</th><th class="num">max ms</th><th class="num">timeouts</th><th class="num">bad frames</th><th class="num">exceptions</th><th>breaker</th></tr></thead><tbody id="buses"></tbody></table></div></section>
<section><h2>Operator</h2><div class="panel"><form id="op-form">
  <label>Operator token<input id="op-token" type="password" autocomplete="off" placeholder="paste the operator token"></label>
  <div><button type="submit" class="ghost" id="op-use">Use token</button> <button type="button" class="ghost" id="op-forget">Forget</button></div>
 </form>
 <form id="block-form" class="opOnly"><label>Block a card (UID as the reader prints it)<input id="block-uid" autocomplete="off" inputmode="text" pattern="[0-9A-Fa-f]{4,32}"></label><button type="submit" id="block-btn">Block card</button></form>
 <div id="op-result" class="msg" role="status"></div>
</div></section>
</main>`;

export function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Laundry room status</title><style nonce="${nonce}">${STYLE}</style></head>
<body>${BODY}
<script nonce="${nonce}">${PAGE_SCRIPT}</script></body></html>`;
}
