import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalEventJson, isRfc3339, parseEventBody } from '../../src/core/event.js';
import { makeEvent, fixtureEvents } from '../support/app.js';

describe('the event validator', () => {
  it('accepts every shipped sample event', () => {
    for (const [name, event] of Object.entries(fixtureEvents())) {
      const r = parseEventBody(event);
      expect(r.ok, `${name}: ${JSON.stringify(!r.ok && r.issues)}`).toBe(true);
    }
  });

  it('applies the contract’s defaults: kind changed, no categories, not a technical upgrade', () => {
    const r = parseEventBody({ id: 'e', platform: { slug: 'x' }, document: { title: 'T' }, severity: 'low', title: 't', detected_at: '2026-01-01T00:00:00+02:00' });
    expect(r.ok && r.events[0]).toMatchObject({ kind: 'changed', categories: [], technical_upgrade: false });
  });

  it('accepts any valid slug and refuses any with a character outside [a-z0-9-]', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,63}$/), (slug) => parseEventBody(makeEvent({ platform: { slug } })).ok),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 64 }).filter((s) => !/^[a-z0-9][a-z0-9-]{0,63}$/.test(s)),
        (slug) => !parseEventBody(makeEvent({ platform: { slug } })).ok,
      ),
    );
  });

  it('accepts timestamps with any offset and refuses them without one', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.integer({ min: -12, max: 14 }), (d, h) => {
        const iso = d.toISOString();
        const off = `${h < 0 ? '-' : '+'}${String(Math.abs(h)).padStart(2, '0')}:00`;
        return isRfc3339(iso) && isRfc3339(iso.replace('Z', off)) && !isRfc3339(iso.replace('Z', ''));
      }),
    );
  });

  it('reports every error of every event in a batch, never throwing on arbitrary input', () => {
    fc.assert(
      fc.property(fc.array(fc.anything(), { maxLength: 5 }), (items) => {
        const r = parseEventBody({ events: items });
        if (!r.ok) return r.issues.every((i) => typeof i.path === 'string' && typeof i.message === 'string');
        return r.events.length === items.length;
      }),
    );
  });

  it('writes the bytes stored payloads were written with: JSON.stringify with every object\'s keys sorted', () => {
    // The stored payload of every event ever ingested was written so; a re-sent event is
    // compared with it byte for byte, so these bytes may never change.
    const stored = (value: unknown) =>
      JSON.stringify(value, (_key, v: unknown) =>
        v && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
          : v,
      );
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '1', '2', '10', '01', '-1', '4294967294', '4294967295', '__proto__', 'é', 'Z', 'a'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.jsonValue(), fc.constant(undefined), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(key, tie('node'), { maxKeys: 6 })),
    })).node;
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (event) => canonicalEventJson(event as never) === stored(event)), { numRuns: 2000 });
    for (const event of Object.values(fixtureEvents())) {
      const r = parseEventBody(event);
      expect(r.ok && canonicalEventJson(r.events[0]!)).toBe(r.ok && stored(r.events[0]!));
    }
  });

  it('gives the same canonical JSON whatever the key order', () => {
    const a = parseEventBody(makeEvent({ id: 'k', evidence: { sha256: 'a'.repeat(64), archive_url: 'https://a.test' } }));
    const raw = makeEvent({ id: 'k', evidence: { archive_url: 'https://a.test', sha256: 'a'.repeat(64) } });
    const reversed = Object.fromEntries(Object.entries(raw).reverse());
    const b = parseEventBody(reversed);
    expect(a.ok && b.ok && canonicalEventJson(a.events[0]!) === canonicalEventJson(b.events[0]!)).toBe(true);
  });

  it('takes only absolute http(s) links, in every link field, and keeps each as the URL parser writes it', () => {
    const fields = [
      ['document.url', (u: string) => makeEvent({ document: { title: 'Terms', url: u } })],
      ['evidence.snapshot_url', (u: string) => makeEvent({ evidence: { snapshot_url: u } })],
      ['evidence.archive_url', (u: string) => makeEvent({ evidence: { archive_url: u } })],
      ['change_url', (u: string) => makeEvent({ change_url: u })],
    ] as const;
    const refused = ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', 'ftp://a.test/x', '//evil.test/x', '/relative', 'not a url', '', `https://a.test/${'x'.repeat(2048)}`];
    for (const [path, make] of fields) {
      for (const url of refused) {
        const r = parseEventBody(make(url));
        expect(r.ok, `${path} = ${url.slice(0, 40)}`).toBe(false);
        expect(!r.ok && r.issues.map((i) => i.path)).toEqual([path]);
      }
      const r = parseEventBody(make(' HTTPS://A.test/a b/<script>"x"'));
      expect(r.ok && path.split('.').reduce((o: any, k) => o[k], r.events[0])).toBe('https://a.test/a%20b/%3Cscript%3E%22x%22');
    }
    const r = parseEventBody(makeEvent({ change_url: 'javascript:alert(1)' }));
    expect(!r.ok && r.issues[0]!.message).toBe('an absolute http(s) URL');
  });
});
