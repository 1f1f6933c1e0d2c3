import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { originForm } from './request-target.ts';

describe('originForm', () => {
  it('rewrites an absolute-form target whose authority is the Host to origin-form', () => {
    assert.equal(originForm('http://shop.test/a/b?x=1', 'shop.test'), '/a/b?x=1');
    assert.equal(originForm('HTTP://Shop.Test/', 'shop.test'), '/');
    assert.equal(originForm('http://shop.test', 'shop.test'), '/');
    assert.equal(originForm('http://shop.test?q', 'shop.test'), '/?q');
    assert.equal(originForm('http://shop.test:8080/p', 'shop.test:8080'), '/p');
    assert.equal(originForm('http://shop.test:80/p', 'shop.test'), '/p');
    assert.equal(originForm('https://shop.test/p', 'shop.test:443'), '/p');
    assert.equal(originForm('http://shop.test./p#frag', 'shop.test'), '/p');
    assert.equal(originForm('http://[::1]:81/p', '[::1]:81'), '/p');
    assert.equal(originForm('*', 'shop.test'), '*');
  });

  it('refuses an authority that is not the Host, userinfo, and other forms', () => {
    assert.equal(originForm('http://evil.example/admin', 'shop.test'), null);
    assert.equal(originForm('http://shop.test:8080/', 'shop.test'), null);
    assert.equal(originForm('http://shop.test/', 'shop.test:8080'), null);
    assert.equal(originForm('http://user@shop.test/', 'shop.test'), null);
    assert.equal(originForm('http:///p', 'shop.test'), null);
    assert.equal(originForm('http://shop.test/', ''), null);
    assert.equal(originForm('ftp://shop.test/', 'shop.test'), null);
    assert.equal(originForm('shop.test:80', 'shop.test'), null);
  });
});
