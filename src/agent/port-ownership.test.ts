import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { isCutoverError } from '../shared/index.ts';
import { verifyPortsOwned } from './agent-ports.ts';
import {
  addressHex,
  addressesOverlap,
  holdsPort,
  othersListening,
  parseProcNetTcp,
  portFree,
  strangers,
} from './port-ownership.ts';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0
   3: 0200007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 666 1 0000000000000000 100 0 0 10 0
`;

test('parseProcNetTcp keeps listening sockets only, with addresses in network byte order', () => {
  assert.deepEqual(parseProcNetTcp(TCP, true), [
    { address: '7f000001', port: 8080, inode: '111' },
    { address: '00000000', port: 8080, inode: '222' },
    { address: '7f000002', port: 8081, inode: '444' },
  ]);
  assert.deepEqual(parseProcNetTcp(TCP6, true), [
    { address: '00000000000000000000000000000001', port: 8080, inode: '555' },
    { address: '00000000000000000000ffff7f000001', port: 8080, inode: '666' },
  ]);
  assert.deepEqual(parseProcNetTcp('header only\n'), []);
});

test('addressHex writes numeric IPv4 and IPv6 addresses as /proc does', () => {
  assert.equal(addressHex('127.0.0.1'), '7f000001');
  assert.equal(addressHex('0.0.0.0'), '00000000');
  assert.equal(addressHex('::1'), '00000000000000000000000000000001');
  assert.equal(addressHex('::'), '00000000000000000000000000000000');
  assert.equal(addressHex('::ffff:127.0.0.1'), '00000000000000000000ffff7f000001');
  assert.equal(addressHex('fe80::1:2'), 'fe800000000000000000000000010002');
});

test('addresses overlap when equal (v4 or v4-mapped v6) or when either is the wildcard', () => {
  assert.ok(addressesOverlap('7f000001', '7f000001'));
  assert.ok(addressesOverlap('7f000001', '00000000'));
  assert.ok(addressesOverlap('00000000000000000000000000000000', '7f000001'));
  assert.ok(addressesOverlap('00000000000000000000ffff7f000001', '7f000001'));
  assert.ok(!addressesOverlap('7f000001', '7f000002'));
  assert.ok(!addressesOverlap('00000000000000000000000000000001', '7f000001'));
});

test('strangers are the other listeners on the port that could take the same connections', () => {
  const listeners = [...parseProcNetTcp(TCP, true), ...parseProcNetTcp(TCP6, true)];
  const found = strangers(listeners, 8080, '7f000001', new Set(['111']));
  assert.deepEqual(
    found.map((l) => l.inode),
    ['222', '666'],
    'the wildcard and the v4-mapped listener, not ::1 or another port',
  );
  assert.deepEqual(strangers(listeners, 8080, '7f000001', new Set(['111', '222', '666'])), []);
});

function listenOn(server: Server, port: number, reusePort: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', reusePort }, () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
}

test(
  'a plain bind sees a port taken even when its holder set SO_REUSEPORT; /proc tells who holds it',
  { skip: process.platform !== 'linux' },
  async (t) => {
    const own = createServer();
    t.after(() => own.close());
    const port = await listenOn(own, 0, true);
    assert.equal(await portFree(port, '127.0.0.1'), false);
    assert.equal(await holdsPort(process.pid, port), true);
    assert.deepEqual(await othersListening(port), [], 'only this process listens');
    await verifyPortsOwned([port], undefined);

    // Another process of the same uid joins the port's SO_REUSEPORT group: the agent must notice.
    const joiner = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer().listen({ port: ${port}, host: '127.0.0.1', reusePort: true }, () => console.log('ready'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => joiner.kill('SIGKILL'));
    await once(joiner.stdout!, 'data');
    assert.equal((await othersListening(port)).length, 1);
    await assert.rejects(
      verifyPortsOwned([port], undefined),
      (e) => isCutoverError(e) && e.code === 'PORT_IN_USE' && e.message.includes(String(port)),
    );
    await verifyPortsOwned([port], { pid: joiner.pid!, startedAt: 0 }); // a predecessor handing over may hold it
    assert.equal(await holdsPort(joiner.pid!, port), true);

    const exited = once(joiner, 'exit');
    joiner.kill('SIGKILL');
    await exited;
    await new Promise<void>((resolve) => own.close(() => resolve()));
    assert.equal(await portFree(port, '127.0.0.1'), true, 'free once everyone closed it');
  },
);
