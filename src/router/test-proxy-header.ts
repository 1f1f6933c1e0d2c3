// Test support (not shipped): PROXY protocol headers as a load balancer writes them.
import { isIPv4 } from 'node:net';
import { parseIpv6 } from './cidr.ts';
import { V2_SIGNATURE } from './proxy-protocol.ts';

/** A v1 header: `PROXY TCP4|TCP6 <source> <destination> <sport> <dport>\r\n`. */
export function proxyV1(
  source: string,
  destination: string,
  sourcePort: number,
  destinationPort: number,
): Buffer {
  const family = isIPv4(source) ? 'TCP4' : 'TCP6';
  return Buffer.from(
    `PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`,
    'latin1',
  );
}

/** A v2 PROXY (or LOCAL) header over TCP, with `tlvs` bytes after the addresses. */
export function proxyV2(
  source: string,
  destination: string,
  sourcePort: number,
  destinationPort: number,
  options: { local?: boolean; tlvs?: Buffer } = {},
): Buffer {
  const v4 = isIPv4(source);
  const addresses = Buffer.alloc(v4 ? 12 : 36);
  if (v4) {
    source.split('.').forEach((o, i) => addresses.writeUInt8(Number(o), i));
    destination.split('.').forEach((o, i) => addresses.writeUInt8(Number(o), 4 + i));
    addresses.writeUInt16BE(sourcePort, 8);
    addresses.writeUInt16BE(destinationPort, 10);
  } else {
    const write = (ip: string, at: number) => {
      const value = parseIpv6(ip) as bigint;
      for (let i = 0; i < 8; i++)
        addresses.writeUInt16BE(Number((value >> BigInt(112 - 16 * i)) & 0xffffn), at + 2 * i);
    };
    write(source, 0);
    write(destination, 16);
    addresses.writeUInt16BE(sourcePort, 32);
    addresses.writeUInt16BE(destinationPort, 34);
  }
  const body = Buffer.concat([addresses, options.tlvs ?? Buffer.alloc(0)]);
  const head = Buffer.alloc(4);
  head.writeUInt8(options.local === true ? 0x20 : 0x21, 0);
  head.writeUInt8(v4 ? 0x11 : 0x21, 1);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}
