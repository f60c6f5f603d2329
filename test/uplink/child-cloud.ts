// The reference cloud consumer in its own process, as the cloud is in production (the drain
// bench: the gateway's CPU is then the gateway's alone): `node --import tsx
// test/uplink/child-cloud.ts <brokerUrl> <dbPath> <payloadFile>`. Prints "ready" once
// subscribed. On SIGTERM it stops, writes the raw bytes of every batch it received to
// payloadFile (each prefixed by its length, 4 bytes big-endian) and prints its stats as JSON,
// with the CPU time (µs) it used since it was ready.
import { writeFileSync } from 'node:fs';
import { makeConsumer } from './helpers.js';

const [url, dbPath, payloadFile] = process.argv.slice(2);
if (url === undefined || dbPath === undefined || payloadFile === undefined) throw new Error('usage: child-cloud <url> <dbPath> <payloadFile>');
const payloads: Buffer[] = [];
const cloud = await makeConsumer(url, dbPath, { onBatchPayload: (p) => payloads.push(p) });
const cpu0 = process.cpuUsage();
process.stdout.write('ready\n');
const keepAlive = setInterval(() => undefined, 1000);
process.once('SIGTERM', () => {
  void cloud.stop().then(() => {
    const parts: Buffer[] = [];
    for (const p of payloads) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      parts.push(len, p);
    }
    writeFileSync(payloadFile, Buffer.concat(parts));
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`${JSON.stringify({ ...cloud.stats, cpuUs: cpu.user + cpu.system })}\n`);
    clearInterval(keepAlive);
  });
});
