// The CLI's side of the control socket: one connection, one request, one parsed response. A
// socket that is missing or refuses is "daemon not running", which the CLI turns into its
// read-only fallback or exit code 3.
import { createConnection } from 'node:net';
import { MAX_RESPONSE_BYTES, controlRequestSchema, controlResponseSchema, resultSchemas, type ControlCommand, type RequestFor, type ResultOf } from './protocol.js';

export type ClientResult<C extends ControlCommand> =
  | { kind: 'ok'; result: ResultOf<C> }
  /** The daemon answered with an error (bad request, unknown bus, command failed). */
  | { kind: 'error'; code: string; message: string }
  /** Nobody listens on the socket: no daemon, or a crashed one. */
  | { kind: 'not-running'; detail: string }
  /** The socket is there but this user may not use it. */
  | { kind: 'denied'; detail: string }
  /** Connected, but no valid answer in time, or the connection broke. */
  | { kind: 'failed'; detail: string };

export interface ClientOptions {
  socketPath: string;
  timeoutMs?: number;
}

export function controlRequest<C extends ControlCommand>(opts: ClientOptions, request: RequestFor<C>): Promise<ClientResult<C>> {
  const parsed = controlRequestSchema.safeParse(request);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ');
    return Promise.resolve({ kind: 'error', code: 'bad_request', message });
  }
  const req = parsed.data;
  return new Promise((resolve) => {
    let buf = '';
    let settled = false;
    const sock = createConnection(opts.socketPath);
    const finish = (r: ClientResult<C>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'failed', detail: `no answer from the daemon within ${opts.timeoutMs ?? 10_000} ms` }), opts.timeoutMs ?? 10_000);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(`${JSON.stringify({ ...req, id: 1 })}\n`));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') finish({ kind: 'not-running', detail: `nothing listens on ${opts.socketPath} (${e.code})` });
      else if (e.code === 'EACCES' || e.code === 'EPERM') finish({ kind: 'denied', detail: `no permission to use ${opts.socketPath}: run as root or as a member of the service group` });
      else finish({ kind: 'failed', detail: `${opts.socketPath}: ${e.message}` });
    });
    sock.on('close', () => finish({ kind: 'failed', detail: 'the daemon closed the connection without an answer' }));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_RESPONSE_BYTES) return finish({ kind: 'failed', detail: 'response too large' });
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let raw: unknown;
      try {
        raw = JSON.parse(buf.slice(0, nl));
      } catch {
        return finish({ kind: 'failed', detail: 'the daemon sent a line that is not JSON' });
      }
      const env = controlResponseSchema.safeParse(raw);
      if (!env.success) return finish({ kind: 'failed', detail: 'the daemon sent a response of unknown shape' });
      if (!env.data.ok) return finish({ kind: 'error', code: env.data.error.code, message: env.data.error.message });
      const schema = resultSchemas[req.cmd];
      const result = schema.safeParse(env.data.result);
      if (!result.success) return finish({ kind: 'failed', detail: `the daemon's ${req.cmd} result has an unknown shape (a different version?)` });
      finish({ kind: 'ok', result: result.data as ResultOf<C> });
    });
  });
}
