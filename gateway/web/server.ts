// The web feature: the status page, its JSON API and live events, operator actions, the
// problem-report form and /metrics, on node:http. Reads everything through a StatusSource;
// start() listens, stop() closes every connection. No request can take the daemon down: every
// handler's error becomes a response.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import { listenWarning } from '../core/exposure.js';
import type { Logger } from '../core/log.js';
import { RefusalLog } from '../core/refusal-log.js';
import { ActivityTail, vendView } from './activity.js';
import { ACTION_NAMES, OperatorActions, type ActionName } from './actions.js';
import { webConfigSchema, type WebConfig, type WebConfigInput } from './config-schema.js';
import { ConnectionGuard } from './connection-guard.js';
import { EventHub } from './events.js';
import { checkHost } from './host-check.js';
import { DEFAULT_FEEDBACK_LIMITS, FeedbackDesk, type FeedbackLimits } from './feedback.js';
import { HttpError, SECURITY_HEADERS, clientAddress, sendError, sendJson } from './http.js';
import { WebCounters, collectMetrics } from './metrics.js';
import { renderPage } from './page.js';
import { PROMETHEUS_CONTENT_TYPE, formatMetrics } from './prometheus.js';
import type { StatusView } from './status-schema.js';
import type { StatusSource } from './status-source.js';
import { healthView, machineView, machineViews } from './views.js';

// node:http taken as a CommonJS builtin, not through an ESM import: on Node 22+ building
// node:http's ESM namespace reads its lazy WebSocket getter, which loads undici, whose HTTP
// parser is WebAssembly; under the unit's --lite-mode (no WebAssembly) that load rejects and
// takes the daemon down. test/architecture/lite-mode.test.ts keeps value imports of it out.
const { createServer } = process.getBuiltinModule('node:http');

export interface WebServerOptions {
  config: WebConfigInput;
  source: StatusSource;
  logger: Logger;
  clock?: Clock;
  /** How often the audit trail is checked for new alerts and vends while a page is open (ms). */
  activityPollMs?: number;
  /** The same with no page open (ms): /metrics and /api/status catch up when asked. */
  activityIdlePollMs?: number;
  /** How often bus, clock and outbox health is pushed to open pages (ms). */
  healthEveryMs?: number;
  heartbeatMs?: number;
  feedbackLimits?: FeedbackLimits;
  recentVends?: number;
  /** Warnings found outside the page (config, secret and ledger file modes), shown on it. */
  warnings?: () => string[];
}

export class WebServer {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly cfg: WebConfig;
  private readonly counters = new WebCounters();
  private readonly activity: ActivityTail;
  private readonly actions: OperatorActions;
  private readonly feedback: FeedbackDesk;
  private readonly hub: EventHub;
  private readonly refusals: RefusalLog;
  private readonly guard: ConnectionGuard;
  private server: Server | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void)[] = [];
  private bound: { host: string; port: number } | null = null;

  constructor(private readonly o: WebServerOptions) {
    this.cfg = webConfigSchema.parse(o.config);
    this.log = o.logger.child({ component: 'web' });
    this.clock = o.clock ?? systemClock;
    this.activity = new ActivityTail(o.source, { pollMs: o.activityPollMs ?? 500, idlePollMs: o.activityIdlePollMs ?? 5000, keepAlerts: 50, logger: this.log });
    this.actions = new OperatorActions({ source: o.source, operatorToken: this.cfg.operatorToken, counters: this.counters, logger: this.log, clock: this.clock });
    this.feedback = new FeedbackDesk({ source: o.source, counters: this.counters, logger: this.log, clock: this.clock, limits: o.feedbackLimits ?? DEFAULT_FEEDBACK_LIMITS, keep: 50 });
    this.hub = new EventHub({
      maxClients: this.cfg.maxEventStreams,
      maxPerClient: this.cfg.maxEventStreamsPerClient,
      heartbeatMs: o.heartbeatMs ?? 15_000,
      logger: this.log,
      onCountChange: (n) => {
        this.counters.sseClients = n;
        this.activity.setWatched(n > 0);
      },
    });
    this.refusals = new RefusalLog({ logger: this.log, clock: this.clock });
    this.guard = new ConnectionGuard({ max: this.cfg.maxConnections, perClient: this.cfg.maxConnectionsPerClient, refusals: this.refusals });
  }

  /** Where it listens, once started. */
  address(): { host: string; port: number } | null {
    return this.bound;
  }

  url(): string {
    if (!this.bound) throw new Error('web server not started');
    const h = this.bound.host.includes(':') ? `[${this.bound.host}]` : this.bound.host;
    return `http://${h}:${this.bound.port}`;
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.server) throw new Error('web server already started');
    const src = this.o.source;
    this.activity.start();
    this.activity.on('alert', (a) => this.hub.send({ event: 'alert', data: a }));
    this.activity.on('vend', (v) => this.hub.send({ event: 'vend', data: v }));
    this.unsubscribe.push(
      src.onMachineState((s) => this.safely('machine event', () => this.hub.size > 0 && this.hub.send({ event: 'machine', data: machineView(src, s, new Set(src.blockedMachines())) }))),
      src.onTick((t) =>
        this.safely('tick event', () =>
          // built only for an open page: the poller ticks every cycle whether anyone looks or not
          this.hub.size > 0 && this.hub.send({ event: 'tick', data: { at: t.at, machines: t.machines.map((m) => ({ machineId: m.machineId, status: m.status, remainingSec: m.remainingSec === null ? null : Math.max(0, Math.round(m.remainingSec)) })) } }),
        ),
      ),
    );
    this.hub.start();
    this.healthTimer = setInterval(() => this.safely('health event', () => this.hub.size > 0 && this.hub.send({ event: 'health', data: healthView(src, this.clock.now()) })), this.o.healthEveryMs ?? 2000);
    this.healthTimer.unref();

    // requireHostHeader off: node's own 400 for a missing Host has no reason; route() says why.
    const server = createServer({ requestTimeout: 15_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024, requireHostHeader: false }, (req, res) => {
      void this.handle(req, res);
    });
    server.keepAliveTimeout = 5_000;
    server.on('connection', (socket) => {
      this.guard.admit(socket);
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.guard.activity(req.socket, 1);
      res.once('close', () => this.guard.activity(req.socket, -1));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      // node could not parse the request: say so, in the same JSON shape as every other refusal
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const body = JSON.stringify({ error: timeout ? 'request_timeout' : 'bad_request', reason: timeout ? 'the request took too long to arrive' : `the request is not valid HTTP (${err.code ?? 'parse error'})` });
      socket.end(`HTTP/1.1 ${timeout ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.cfg.port, this.cfg.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      // Port taken or address missing: leave nothing running behind a failed start.
      await this.stop();
      throw e;
    }
    server.on('error', (e) => this.log.error({ err: e.message }, 'web: server error'));
    const a = server.address() as AddressInfo;
    this.bound = { host: a.address, port: a.port };
    this.log.info({ host: a.address, port: a.port, actions: this.actions.enabled, allowedHosts: this.cfg.allowedHosts }, 'web: status page listening');
    for (const w of this.warnings()) this.log.warn({ warning: w }, 'web: exposure warning');
    return this.bound;
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.activity.stop();
    this.activity.removeAllListeners();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.hub.close();
    const server = this.server;
    this.server = null;
    this.bound = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** What the operator should fix: the listener beyond loopback without TLS, file modes. */
  warnings(): string[] {
    const listen = listenWarning(this.bound?.host ?? this.cfg.host, this.actions.enabled);
    return [...(listen === null ? [] : [listen]), ...(this.o.warnings?.() ?? [])];
  }

  /** The /api/status document. */
  status(): StatusView {
    this.activity.poll(); // the alerts and declines below, fresh while no page keeps the tail close
    const src = this.o.source;
    const health = healthView(src, this.clock.now());
    return {
      generatedAt: health.generatedAt,
      room: src.room(),
      machines: machineViews(src),
      buses: health.buses,
      clock: health.clock,
      uplink: health.uplink,
      vends: src.recentVends(this.o.recentVends ?? 20).map(vendView),
      alerts: this.activity.alerts(),
      declines: Object.fromEntries(this.activity.counts.declines),
      feedback: this.feedback.list(),
      actions: { enabled: this.actions.enabled, supported: this.actions.supported() },
      warnings: this.warnings(),
    };
  }

  metrics(): string {
    this.activity.poll();
    this.counters.connections = this.guard.size;
    this.counters.connectionRefusals = this.refusals.counts();
    return formatMetrics(collectMetrics(this.o.source, this.activity.counts, this.counters));
  }

  private safely(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, `web: ${what} failed`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (e) {
      if (e instanceof HttpError) {
        if (e.status === 413) res.setHeader('connection', 'close');
        sendError(res, e);
        return;
      }
      this.log.error({ err: e instanceof Error ? e.message : String(e), path: req.url?.slice(0, 100) }, 'web: request failed');
      sendJson(res, 500, { error: 'internal', reason: 'the gateway could not answer this request' });
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://gateway').pathname;
    } catch {
      throw new HttpError(400, 'bad_url', 'the request URL cannot be parsed');
    }
    if (req.headers.host === undefined && req.httpVersion !== '1.0') throw new HttpError(400, 'missing_host', 'an HTTP/1.1 request needs a Host header');
    const host = checkHost(req.headers.host, this.cfg.allowedHosts);
    if (!host.ok) {
      this.refusals.note('host', 'web: request for a host name not allowed (DNS rebinding?)', { client: clientAddress(req) });
      throw new HttpError(421, 'unknown_host', host.reason);
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const only = (m: string): void => {
      if (method !== m) throw new HttpError(405, 'method_not_allowed', `use ${m}`, { allow: m === 'GET' ? 'GET, HEAD' : m });
    };
    if (path === '/' || path === '/index.html') {
      only('GET');
      const nonce = randomBytes(16).toString('base64');
      const html = renderPage(nonce);
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(Buffer.byteLength(html)),
        'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      res.end(html);
      return;
    }
    if (path === '/api/status') {
      only('GET');
      sendJson(res, 200, this.status());
      return;
    }
    if (path === '/api/events') {
      if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'use GET', { allow: 'GET' });
      const client = clientAddress(req);
      const opened = this.hub.attach(req, res, client, () => ({ event: 'status', data: this.status() }));
      if (opened === 'client_full') {
        this.refusals.note('event_streams_per_client', 'web: event stream refused, this client has its share open', { client, perClient: this.cfg.maxEventStreamsPerClient });
        throw new HttpError(429, 'too_many_streams', `at most ${this.cfg.maxEventStreamsPerClient} live pages per device; close another tab`, { 'retry-after': '30' });
      }
      if (opened === 'full') {
        this.refusals.note('event_streams', 'web: event stream refused, all are taken', { client, max: this.cfg.maxEventStreams });
        throw new HttpError(503, 'too_many_clients', 'too many open status pages; try again later', { 'retry-after': '30' });
      }
      return;
    }
    if (path === '/metrics') {
      only('GET');
      const text = this.metrics();
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    if (path === '/healthz') {
      only('GET');
      sendJson(res, 200, { ok: true });
      return;
    }
    if (path === '/api/feedback') {
      only('POST');
      const view = await this.feedback.submit(req);
      this.hub.send({ event: 'feedback', data: view });
      sendJson(res, 202, { ok: true, id: view.id });
      return;
    }
    const action = /^\/api\/actions\/([a-z-]+)$/.exec(path)?.[1];
    if (action !== undefined && (ACTION_NAMES as readonly string[]).includes(action)) {
      only('POST');
      const body = await this.actions.run(action as ActionName, req);
      this.activity.poll(); // the audit records just written reach open pages at once
      sendJson(res, 200, body);
      return;
    }
    throw new HttpError(404, 'not_found', 'no such page or endpoint');
  }
}
