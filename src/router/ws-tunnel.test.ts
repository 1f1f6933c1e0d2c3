import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../testing/index.ts';
import { Tunnel } from './ws-tunnel.ts';

/** A connected pair of loopback sockets: [the router's end, the peer's end]. */
async function pair(server: Server): Promise<[Socket, Socket]> {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(peer, 'connect');
  const [mine] = await accepted;
  return [mine, peer];
}

function collect(socket: Socket): { data: () => Buffer; ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  // Peers answer a FIN with a FIN, like a WebSocket client does after the close handshake.
  const ended = once(socket, 'end').then(() => socket.end());
  return { data: () => Buffer.concat(chunks), ended };
}

const CLOSE_1001 = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

function binaryFrame(length: number, masked: boolean): Buffer {
  const head = masked
    ? Buffer.from([0x82, 0x80 | 126, length >> 8, length & 0xff, 9, 9, 9, 9])
    : Buffer.from([0x82, 126, length >> 8, length & 0xff]);
  return Buffer.concat([head, Buffer.alloc(length, 1)]);
}

function unmaskCloseCode(frame: Buffer): number {
  assert.equal(frame[0], 0x88);
  assert.equal(frame[1], 0x82);
  const mask = frame.subarray(2, 6);
  return (((frame[6] as number) ^ (mask[0] as number)) << 8) | ((frame[7] as number) ^ (mask[1] as number));
}

describe('Tunnel.goingAway', () => {
  let server: Server;

  before(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('waits for the end of the frames in flight both ways, then closes each side with 1001', async () => {
    const [client, clientPeer] = await pair(server);
    const [upstream, upstreamPeer] = await pair(server);
    let closed = 0;
    const tunnel = new Tunnel({ tunnelClosed: () => closed++ }, client, upstream, true, Buffer.alloc(0));
    const toClient = collect(clientPeer);
    const toUpstream = collect(upstreamPeer);
    const appFrame = binaryFrame(1000, false);
    const clientFrame = binaryFrame(500, true);
    upstreamPeer.write(appFrame.subarray(0, 300));
    clientPeer.write(clientFrame.subarray(0, 100));
    await waitFor('half frames relayed', () => toClient.data().length === 300 && toUpstream.data().length === 100);
    tunnel.goingAway();
    upstreamPeer.write(Buffer.concat([appFrame.subarray(300), binaryFrame(10, false)]));
    clientPeer.write(Buffer.concat([clientFrame.subarray(100), binaryFrame(10, true)]));
    await Promise.all([toClient.ended, toUpstream.ended]);
    // The client got the whole frame, then the close frame; the frame after it was dropped.
    assert.deepEqual(toClient.data(), Buffer.concat([appFrame, CLOSE_1001]));
    const atApp = toUpstream.data();
    assert.deepEqual(atApp.subarray(0, clientFrame.length), clientFrame);
    assert.equal(atApp.length, clientFrame.length + 8);
    assert.equal(unmaskCloseCode(atApp.subarray(clientFrame.length)), 1001);
    await waitFor('the owner told once', () => closed === 1);
  });

  it('closes at once when both directions are at a boundary', async () => {
    const [client, clientPeer] = await pair(server);
    const [upstream, upstreamPeer] = await pair(server);
    let closed = 0;
    const tunnel = new Tunnel({ tunnelClosed: () => closed++ }, client, upstream, true, Buffer.alloc(0));
    const toClient = collect(clientPeer);
    const toUpstream = collect(upstreamPeer);
    tunnel.goingAway();
    await Promise.all([toClient.ended, toUpstream.ended]);
    assert.deepEqual(toClient.data(), CLOSE_1001);
    assert.equal(unmaskCloseCode(toUpstream.data()), 1001);
    await waitFor('the owner told once', () => closed === 1);
  });
});
