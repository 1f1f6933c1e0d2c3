import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeEdgeSet } from './index.ts';

const pair = (hosts: string[], isDefault = false) => ({ hosts, cert: `c:${hosts.join(',')}`, key: `k:${hosts.join(',')}`, isDefault });

describe('mergeEdgeSet', () => {
  it("keeps the server's set (and its default) without a file pair", () => {
    const server = [pair(['a.example.com']), pair(['*.example.com'], true)];
    assert.deepEqual(mergeEdgeSet(undefined, server).map((p) => [p.hosts, p.isDefault]), [[['a.example.com'], false], [['*.example.com'], true]]);
  });
  it('makes the file pair the default, without the names a server certificate claims', () => {
    const merged = mergeEdgeSet(pair(['a.example.com', 'b.example.com']), [pair(['a.example.com'], true)]);
    assert.deepEqual(merged.map((p) => [p.hosts, p.isDefault, p.cert]), [
      [['b.example.com'], true, 'c:a.example.com,b.example.com'],
      [['a.example.com'], false, 'c:a.example.com'],
    ]);
    const names = merged.flatMap((p) => p.hosts);
    assert.equal(new Set(names).size, names.length, 'no name twice');
  });
  it('serves the file pair alone when the server has none', () => {
    assert.deepEqual(mergeEdgeSet(pair(['x.example.com']), []).map((p) => [p.hosts, p.isDefault]), [[['x.example.com'], true]]);
  });
});
