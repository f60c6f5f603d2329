// CPU time of processes from /proc (user + system), so a figure holds on a shared machine where
// rates do not: CPU per record of the workers, PostgreSQL and the brokers, against COPY's.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms used so far by these processes and their exited children (0 for any that is gone). */
export function cpuMs(pids: readonly (number | null)[]): number {
  let ticks = 0;
  for (const pid of pids) {
    if (pid === null) continue;
    try {
      // Fields after the ")" of the command name: state is 3rd, utime 14th, stime 15th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, and cutime + cstime: the time of children that exited (a PostgreSQL
      // backend whose connection closed mid-measurement counts in its postmaster's).
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // exited: its time is no longer countable
    }
  }
  return ticks * TICK_MS;
}

/** The postmaster of a cluster and every process it started (backends, writers). */
export function postgresPids(dataDir: string): number[] {
  let pm: number;
  try {
    pm = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return [];
  }
  const out = [pm];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pm) out.push(Number(d));
    } catch {
      // gone between the listing and the read
    }
  }
  return out;
}

/** CPU ms of a PostgreSQL cluster so far: the postmaster, its live children and every child that exited. */
export function postgresCpuMs(dataDir: string): number {
  return cpuMs(postgresPids(dataDir));
}

/**
 * A cluster's CPU ms so far split: its client backends (the ingest's and the rig's connections)
 * and the rest (postmaster with its exited children, checkpointer, background and WAL writers,
 * autovacuum): what of PostgreSQL's time per record is the statements' and what is upkeep.
 */
export function postgresCpuSplitMs(dataDir: string): { backends: number; background: number } {
  let backends = 0;
  let background = 0;
  for (const pid of postgresPids(dataDir)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    // A client backend's title: "postgres: <user> <db> <host>(<port>) <state>".
    if (/\(\d+\)/.test(cmd)) backends += cpuMs([pid]);
    else background += cpuMs([pid]);
  }
  return { backends, background };
}
