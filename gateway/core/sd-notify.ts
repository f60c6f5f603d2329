// sd_notify for a Type=notify unit: READY=1 once started, WATCHDOG=1 at half of WATCHDOG_USEC
// while the daemon is healthy, STOPPING=1 on shutdown, STATUS= lines for `systemctl status`.
//
// Node cannot send on a unix datagram socket, so each message is handed to `systemd-notify`
// (Debian package `systemd`, on every Raspberry Pi OS). The message then comes from a child
// process, which the unit must allow with NotifyAccess=all. systemd-notify waits (BARRIER=1)
// until the manager has read the message: without that, a message from a process that has
// already exited cannot be matched to the unit and is dropped (systemd issue #2737).
import { spawn } from 'node:child_process';
import type { Logger } from './log.js';

export type HealthVerdict = { ok: true } | { ok: false; reason: string };

export interface SdNotifierOptions {
  logger: Logger;
  /** Asked before each watchdog ping: no ping while the bus loop or the event loop is stuck. */
  healthy: () => HealthVerdict;
  /** Default process.env: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID. */
  env?: NodeJS.ProcessEnv;
  /** Default process.pid: reported as MAINPID. */
  pid?: number;
  /** Default 'systemd-notify'. */
  command?: string;
  /** A systemd-notify that has not finished by then is killed. */
  timeoutMs?: number;
}

/** What systemd accepts in one STATUS= line. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

export class SdNotifier {
  /** False when not started by systemd (no NOTIFY_SOCKET): every call is then a no-op. */
  readonly enabled: boolean;
  /** Half of WATCHDOG_USEC, or null when the unit has no WatchdogSec (or it is for another pid). */
  readonly watchdogIntervalMs: number | null;
  private readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly pid: number;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private pinging = false;
  private lastUnhealthy: string | null = null;
  private broken = false;
  private stopped = false;

  constructor(private readonly o: SdNotifierOptions) {
    this.env = o.env ?? process.env;
    this.pid = o.pid ?? process.pid;
    this.log = o.logger.child({ component: 'sd-notify' });
    const socket = this.env.NOTIFY_SOCKET;
    this.enabled = typeof socket === 'string' && socket.length > 0;
    const usec = Number(this.env.WATCHDOG_USEC);
    const forPid = this.env.WATCHDOG_PID;
    const ours = forPid === undefined || forPid === '' || Number(forPid) === this.pid;
    this.watchdogIntervalMs = this.enabled && ours && Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : null;
  }

  /** Start-up is complete: systemd moves the unit to "active" and starts the dependents. */
  ready(status?: string): Promise<void> {
    return this.send(['READY=1', ...(status ? [`STATUS=${oneLine(status)}`] : [])]);
  }

  status(text: string): Promise<void> {
    return this.send([`STATUS=${oneLine(text)}`]);
  }

  /** Shutdown has begun; also ends the watchdog, which must not fire while we drain. */
  stopping(status?: string): Promise<void> {
    this.stopWatchdog();
    return this.send(['STOPPING=1', ...(status ? [`STATUS=${oneLine(status)}`] : [])]);
  }

  startWatchdog(): void {
    const every = this.watchdogIntervalMs;
    if (every === null || this.timer) return;
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
    this.tick();
  }

  stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops the watchdog and waits for messages already handed over. */
  async close(): Promise<void> {
    this.stopWatchdog();
    this.stopped = true;
    await this.chain;
  }

  private tick(): void {
    if (this.pinging) return;
    let verdict: HealthVerdict;
    try {
      verdict = this.o.healthy();
    } catch (e) {
      verdict = { ok: false, reason: `health check threw: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (!verdict.ok) {
      // No ping: systemd restarts us after WatchdogSec if this does not clear.
      if (this.lastUnhealthy !== verdict.reason) {
        this.lastUnhealthy = verdict.reason;
        this.log.error({ reason: verdict.reason }, 'unhealthy: watchdog not fed');
        void this.status(`unhealthy: ${verdict.reason}`);
      }
      return;
    }
    if (this.lastUnhealthy !== null) {
      this.log.info({ was: this.lastUnhealthy }, 'healthy again: watchdog fed');
      this.lastUnhealthy = null;
      void this.status('running');
    }
    this.pinging = true;
    void this.send(['WATCHDOG=1']).finally(() => {
      this.pinging = false;
    });
  }

  private send(fields: string[]): Promise<void> {
    if (!this.enabled || this.broken || this.stopped) return Promise.resolve();
    const next = this.chain.then(() => this.spawnNotify(fields));
    this.chain = next;
    return next;
  }

  private spawnNotify(fields: string[]): Promise<void> {
    const timeoutMs = this.o.timeoutMs ?? 5000;
    return new Promise((resolve) => {
      const child = spawn(this.o.command ?? 'systemd-notify', [`--pid=${this.pid}`, ...fields], { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < 1000) stderr += d;
      });
      const timer = setTimeout(() => {
        this.log.warn({ fields: fields.map((f) => f.split('=')[0]), timeoutMs }, 'systemd-notify did not finish: killed');
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (e.code === 'ENOENT') {
          // Without it a Type=notify unit never becomes ready: say so once, loudly.
          this.broken = true;
          this.log.fatal({ command: this.o.command ?? 'systemd-notify' }, 'systemd-notify not found: cannot tell systemd we are ready (install the "systemd" package)');
        } else {
          this.log.error({ err: e.message }, 'systemd-notify could not be started');
        }
        resolve();
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) this.log.warn({ code, stderr: stderr.trim() }, 'systemd-notify failed');
        resolve();
      });
    });
  }
}
