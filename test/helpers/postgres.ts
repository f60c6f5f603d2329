// A throwaway PostgreSQL cluster (Debian's postgresql 15) on a free loopback port, its socket in
// a temp dir, trust auth. The server refuses to run as root: as root it runs as the `postgres`
// user (runuser), otherwise as whoever runs the tests. stop()/start()/crash() keep the data and
// the port, so clients reconnect to the same URL.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';

export interface Postgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly dataDir: string;
  start(): Promise<void>;
  /** Clean shutdown (fast). */
  stop(): Promise<void>;
  /** Immediate shutdown: no checkpoint, recovery from the WAL at the next start (as after a crash). */
  crash(): Promise<void>;
  close(): Promise<void>;
}

export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(base, versions[0], 'bin');
}

export async function startPostgres(opts: { settings?: Record<string, string> } = {}): Promise<Postgres> {
  const bin = postgresBinDir();
  if (bin === null) throw new Error('PostgreSQL not installed: run scripts/ensure-system-deps.sh (Debian package postgresql)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pg-'));
  const dataDir = join(dir, 'data');
  const sockDir = join(dir, 'sock');
  mkdirSync(sockDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const d of [dir, sockDir]) chownSync(d, uid, gid);
  }
  const run = (tool: string, args: string[]): Promise<void> => {
    const cmd = asRoot ? 'runuser' : join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
    return new Promise((resolve, reject) => {
      execFile(cmd, argv, { encoding: 'utf8', cwd: dir }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${tool} ${args.join(' ')} failed: ${(stderr || stdout || err.message).trim().slice(-2000)}`));
        else resolve();
      });
    });
  };
  await run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--locale=C']);
  const settings = { listen_addresses: '127.0.0.1', port: String(port), unix_socket_directories: sockDir, max_connections: '200', ...opts.settings };
  const o = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const log = join(dir, 'server.log');
  let running = false;
  const pg: Postgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    async start() {
      if (running) return;
      await run('pg_ctl', ['-D', dataDir, '-o', o, '-l', log, '-w', '-t', '60', 'start']);
      running = true;
    },
    async stop() {
      if (!running) return;
      await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    async crash() {
      if (!running) return;
      await run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      running = false;
    },
    async close() {
      try {
        await pg.crash();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  await pg.start();
  return pg;
}
