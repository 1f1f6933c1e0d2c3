import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIpv6 } from './cidr.ts';
import { parseProxyHeader, V2_SIGNATURE } from './proxy-protocol.ts';
import { proxyV1, proxyV2 } from './test-proxy-header.ts';

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const v6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));
const portArb = fc.nat(65535);
const trailing = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

describe('PROXY protocol header', () => {
  it('reads v1 TCP4, TCP6 and UNKNOWN headers', () => {
    const done = parseProxyHeader(
      Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\nGET / HTTP/1.1\r\n'),
    );
    assert.deepEqual(done, {
      status: 'done',
      header: {
        command: 'proxy',
        source: '203.0.113.7',
        destination: '10.0.0.1',
        sourcePort: 51234,
        destinationPort: 443,
      },
      length: 43,
    });
    const six = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 1 2\r\n'));
    assert.equal(six.status === 'done' && six.header.command === 'proxy' && six.header.source, '2001:db8::1');
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN whatever\r\n')), {
      status: 'done',
      header: { command: 'local' },
      length: 24,
    });
  });

  it('refuses anything that is not exactly a header', () => {
    for (const text of [
      'GET / HTTP/1.1\r\n',
      '\x16\x03\x01', // a TLS ClientHello
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n',
      'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n',
      'PROXY TCP4 ::1 ::1 1 2\r\n',
      'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}\r\n`,
    ]) {
      assert.equal(parseProxyHeader(Buffer.from(text, 'latin1')).status, 'invalid', JSON.stringify(text));
    }
    const udp = Buffer.from(proxyV2('1.2.3.4', '5.6.7.8', 1, 2));
    udp[13] = 0x12;
    assert.equal(parseProxyHeader(udp).status, 'invalid');
    const v3 = Buffer.from(proxyV2('1.2.3.4', '5.6.7.8', 1, 2));
    v3[12] = 0x31;
    assert.equal(parseProxyHeader(v3).status, 'invalid');
    const huge = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    assert.equal(parseProxyHeader(huge).status, 'invalid');
  });

  it('reads v2 LOCAL (a health check), and PROXY with TLVs after the addresses', () => {
    assert.deepEqual(parseProxyHeader(proxyV2('1.2.3.4', '5.6.7.8', 1, 2, { local: true })), {
      status: 'done',
      header: { command: 'local' },
      length: 28,
    });
    const withTlv = proxyV2('1.2.3.4', '5.6.7.8', 1, 2, {
      tlvs: Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]),
    });
    const parsed = parseProxyHeader(withTlv);
    assert.equal(parsed.status === 'done' && parsed.length, withTlv.length);
  });

  it('every header: complete parse with the bytes after it untouched, incomplete at every shorter prefix', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          v4.map((a) => [a, '10.0.0.1']),
          v6.map((a) => [a, 'fd00::1']),
        ),
        portArb,
        portArb,
        fc.boolean(),
        trailing,
        ([source, destination], sp, dp, v2, rest) => {
          const header = v2 ? proxyV2(source!, destination!, sp, dp) : proxyV1(source!, destination!, sp, dp);
          const parsed = parseProxyHeader(Buffer.concat([header, rest]));
          assert.equal(parsed.status, 'done');
          if (parsed.status !== 'done' || parsed.header.command !== 'proxy') return;
          assert.equal(parsed.length, header.length);
          assert.equal(parsed.header.sourcePort, sp);
          assert.equal(parsed.header.destinationPort, dp);
          // v2 writes IPv6 groups in full: compare the addresses, not their text.
          const same = (a: string, b: string) => (a.includes(':') ? parseIpv6(a) === parseIpv6(b) : a === b);
          assert.ok(same(parsed.header.source, source!), `${parsed.header.source} is ${source}`);
          assert.ok(same(parsed.header.destination, destination!));
          for (let n = 0; n < header.length; n++)
            assert.equal(parseProxyHeader(header.subarray(0, n)).status, 'incomplete', `prefix ${n}`);
        },
      ),
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, signed) => {
        const buf = signed ? Buffer.concat([V2_SIGNATURE, Buffer.from(bytes)]) : Buffer.from(bytes);
        const parsed = parseProxyHeader(buf);
        assert.ok(['done', 'incomplete', 'invalid'].includes(parsed.status));
        if (parsed.status === 'done') assert.ok(parsed.length <= buf.length);
      }),
    );
  });
});
