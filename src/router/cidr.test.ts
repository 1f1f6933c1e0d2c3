import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCidrs, parseIpv4, parseIpv6 } from './cidr.ts';

function set(...cidrs: string[]) {
  const { set, issues } = parseCidrs(cidrs, 'trustedProxies');
  assert.deepEqual(issues, []);
  return set;
}

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const v6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));

describe('CIDR matcher', () => {
  it('parses addresses in their text forms', () => {
    assert.equal(parseIpv4('10.1.2.3'), 0x0a010203);
    for (const bad of ['10.1.2', '10.1.2.256', '10.01.2.3', '1.2.3.4.5', '', 'a.b.c.d'])
      assert.equal(parseIpv4(bad), null, bad);
    assert.equal(parseIpv6('::'), 0n);
    assert.equal(parseIpv6('::1'), 1n);
    assert.equal(parseIpv6('fd00::'), 0xfd00n << 112n);
    assert.equal(parseIpv6('::ffff:10.0.0.1'), 0xffff0a000001n);
    assert.equal(parseIpv6('1:2:3:4:5:6:7:8'), 0x00010002000300040005000600070008n);
    for (const bad of [
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      'g::',
      '::1.2.3',
      '1.2.3.4::',
      '12345::',
      '1:2:3:4:5:6:7::8',
    ])
      assert.equal(parseIpv6(bad), null, bad);
  });

  it('matches IPv4 and IPv6 blocks, bare addresses, and IPv4-mapped peers', () => {
    const s = set('10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1', '0.0.0.0/32');
    for (const ip of [
      '10.0.0.1',
      '10.255.255.255',
      '192.168.1.7',
      '::ffff:10.2.3.4',
      'fd12::1',
      '::1',
      'fd00::1%eth0',
    ])
      assert.ok(s.has(ip), ip);
    for (const ip of ['11.0.0.1', '192.168.1.8', 'fe80::1', '::2', '::ffff:11.0.0.1', 'not an ip', ''])
      assert.ok(!s.has(ip), ip);
    assert.ok(set('0.0.0.0/0').has('203.0.113.9'));
    assert.ok(set('::/0').has('2001:db8::1'));
    // An IPv4 peer against a block of mapped addresses (a dual-stack listener reports either form).
    assert.ok(set('::ffff:10.0.0.0/104').has('10.9.9.9'));
  });

  it('reports every bad entry by its index, with the fix', () => {
    const { issues } = parseCidrs(
      ['10.0.0.1/8', 'fd00::1/8', '10.0.0.0/33', 'nope', '10.0.0.0/x', 7 as unknown as string],
      'p',
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ['p[0]', 'p[1]', 'p[2]', 'p[3]', 'p[4]', 'p[5]'],
    );
    assert.match(issues[0]!.message, /did you mean 10\.0\.0\.0\/8/);
    assert.match(issues[2]!.message, /longer than \/32/);
  });

  it('agrees with node:net BlockList on random IPv4 blocks and addresses', () => {
    fc.assert(
      fc.property(
        v4,
        fc.nat(32),
        fc.nat(),
        fc.array(v4, { maxLength: 20 }),
        (base, prefix, hostBits, probes) => {
          const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
          const network = (parseIpv4(base)! & mask) >>> 0;
          const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
          const text = dotted(network);
          // An address inside the block, so every run checks a match as well as (mostly) misses.
          const inside = dotted((network | (hostBits & ~mask)) >>> 0);
          assert.ok(set(`${text}/${prefix}`).has(inside), `${inside} in ${text}/${prefix}`);
          const ours = set(`${text}/${prefix}`);
          const oracle = new BlockList();
          oracle.addSubnet(text, prefix, 'ipv4');
          for (const ip of [base, text, inside, ...probes])
            assert.equal(ours.has(ip), oracle.check(ip, 'ipv4'), `${ip} in ${text}/${prefix}`);
        },
      ),
    );
  });

  it('agrees with node:net BlockList on random IPv6 blocks and addresses', () => {
    fc.assert(
      fc.property(v6, fc.nat(128), v6, fc.array(v6, { maxLength: 20 }), (base, prefix, hostBits, probes) => {
        const all = (1n << 128n) - 1n;
        const mask = prefix === 0 ? 0n : all ^ ((1n << BigInt(128 - prefix)) - 1n);
        const network = parseIpv6(base)! & mask;
        const text6 = (n: bigint) =>
          Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
        const text = text6(network);
        const inside = text6(network | (parseIpv6(hostBits)! & (all ^ mask)));
        assert.ok(set(`${text}/${prefix}`).has(inside), `${inside} in ${text}/${prefix}`);
        const ours = set(`${text}/${prefix}`);
        const oracle = new BlockList();
        oracle.addSubnet(text, prefix, 'ipv6');
        for (const ip of [base, text, inside, ...probes])
          assert.equal(ours.has(ip), oracle.check(ip, 'ipv6'), `${ip} in ${text}/${prefix}`);
      }),
    );
  });
});
