// TLS with client certificates, as in the field: a throwaway CA made with openssl, Mosquitto
// requiring a client certificate, the uplink given the CA, cert and key as file paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { freePort, startMosquitto } from '../helpers/mosquitto.js';
import { enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

function makePki(dir: string, file: (n: string) => string): void {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', file('ca.key'), '-out', file('ca.crt'));
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'room-1']] as const) {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    ssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-out', file(`${name}.crt`), ...(name === 'server' ? ['-extfile', file('san.ext')] : []));
  }
  // Mosquitto started as root reads its key files after dropping to its own user.
  chmodSync(dir, 0o755);
  chmodSync(file('server.key'), 0o644);
}

test('mqtts with a client certificate: the uplink connects with CA, cert and key from files and delivers', async () => {
  const t = tempDir();
  makePki(t.dir, t.file);
  const tlsPort = await freePort();
  // One broker, two listeners: TLS with client certificates for the gateway, plain for the test's cloud.
  const broker = await startMosquitto({
    extraConfig: [`listener ${tlsPort} 127.0.0.1`, `cafile ${t.file('ca.crt')}`, `certfile ${t.file('server.crt')}`, `keyfile ${t.file('server.key')}`, 'require_certificate true'].join('\n'),
  });
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 30);
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const url = `mqtts://127.0.0.1:${tlsPort}`;
  const withCert = makeUplink(ledger, url, {}, { tls: { caFile: t.file('ca.crt'), certFile: t.file('client.crt'), keyFile: t.file('client.key') } });
  const withoutCert = makeUplink(ledger, url, {}, { clientId: 'no-cert', tls: { caFile: t.file('ca.crt') } });
  try {
    await withoutCert.start();
    await withCert.start();
    await waitFor(() => ledger.outbox.stats().depth === 0, 'delivered over TLS');
    assert.ok(storedInOrder(cloud, 30));
    assert.equal(withoutCert.stats().connects, 0, 'no client certificate, no connection');
  } finally {
    await withCert.stop();
    await withoutCert.stop();
    await cloud.stop();
    ledger.close();
    await broker.close();
    t.cleanup();
  }
});
