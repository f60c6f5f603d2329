// A stand-in for systemd's notification socket: a unix datagram socket (python3, since Node has
// none) that prints each message as one line and, like systemd, closes the fds a BARRIER=1
// message carries, so systemd-notify's wait for the manager ends as it does in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const RECEIVER = `
import socket, sys, os, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
            for fd in fds: os.close(fd)
    print(msg.decode().replace("\\n", "|"), flush=True)
`;

export interface NotifyReceiver {
  socketPath: string;
  /** Each datagram, its fields joined by '|'. */
  messages: string[];
  /** Every KEY=VALUE field received, in order. */
  fields(): string[];
  waitFor(pred: (fields: string[]) => boolean, what: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startNotifyReceiver(): Promise<NotifyReceiver> {
  const dir = mkdtempSync(join(tmpdir(), 'notify-'));
  const socketPath = join(dir, 'notify.sock');
  const messages: string[] = [];
  const proc: ChildProcess = spawn('python3', ['-u', '-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  let listening = false;
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'LISTENING') listening = true;
      else messages.push(line);
    }
  });
  const fields = (): string[] => messages.flatMap((m) => m.split('|').filter((f) => f !== ''));
  const waitFor = async (pred: (f: string[]) => boolean, what: string, ms = 20_000): Promise<void> => {
    const until = Date.now() + ms;
    while (!pred(fields())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`);
      await sleep(20);
    }
  };
  const until = Date.now() + 20_000;
  while (!listening) {
    if (proc.exitCode !== null || Date.now() > until) throw new Error('the python3 notify receiver did not start');
    await sleep(20);
  }
  return {
    socketPath,
    messages,
    fields,
    waitFor,
    close: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
