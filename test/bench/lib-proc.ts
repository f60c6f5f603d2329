// Reading a process's memory and CPU from /proc, for the benchmarks that measure what the daemon
// costs on a Pi (footprint). Sums over the process and its descendants, so a helper thread or a
// child process is charged to whoever started it.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime/stime in USER_HZ, 100 on every architecture Linux runs on today. */
export const CLOCK_TICKS_PER_S = 100;

/** The process and every descendant still alive. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] ?? pid;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') out.push(Number(c));
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }
  return out;
}

/** VmRSS, and its anonymous part (heap, stacks: the process's own memory; the rest is mostly the node binary's pages). */
export function rssKb(pid: number): { rss: number; anon: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
    return { rss: rss ? Number(rss[1]) : 0, anon: anon ? Number(anon[1]) : 0 };
  } catch {
    return { rss: 0, anon: 0 };
  }
}

/** utime + stime of the process (all its threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

export function treeRssKb(pid: number): { rss: number; anon: number } {
  const sum = { rss: 0, anon: 0 };
  for (const p of processTree(pid)) {
    const r = rssKb(p);
    sum.rss += r.rss;
    sum.anon += r.anon;
  }
  return sum;
}

export const treeCpuTicks = (pid: number): number => processTree(pid).reduce((s, p) => s + cpuTicks(p), 0);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}
