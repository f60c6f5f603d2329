// A readable rendering of the daemon's pino JSON for the demo terminal: time, message and the
// fields an operator cares about. The daemon itself always logs JSON (journald).
import { Writable } from 'node:stream';

const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v', 'component', 'bus']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function renderLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object') return line;
    o = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const t = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 19) : '--:--:--';
  const level = typeof o.level === 'number' ? (LEVELS[o.level] ?? String(o.level)) : '';
  const fields = Object.entries(o)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(' ');
  return `${t} ${level} ${typeof o.msg === 'string' ? o.msg : ''}${fields ? `  ${fields}` : ''}`;
}

export function prettyStream(out: NodeJS.WritableStream): Writable {
  let buf = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      buf += chunk.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        out.write(`${renderLine(buf.slice(0, i))}\n`);
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
      cb();
    },
  });
}
