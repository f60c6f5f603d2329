// A gateway uplink in its own process, for tests that kill it: `node --import tsx
// test/uplink/child-uplink.ts <brokerUrl> <ledgerPath>`. Prints "connected" once online.
import { makeUplink, testLedger, waitFor } from './helpers.js';

const [url, path] = process.argv.slice(2);
if (url === undefined || path === undefined) throw new Error('usage: child-uplink <url> <ledgerPath>');
const ledger = testLedger(path);
const up = makeUplink(ledger, url);
await up.start();
await waitFor(() => up.stats().connected, 'connected');
process.stdout.write('connected\n');
setInterval(() => undefined, 1000);
