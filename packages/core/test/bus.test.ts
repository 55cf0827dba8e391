import { describe, expect, it } from 'vitest';
import {
  type BusMessage,
  decodeBusMessage,
  encodeBusMessage,
  MalformedBusMessageError,
} from '../src/bus/bus.js';
import { LocalBus, LocalBusChannel } from '../src/bus/local-bus.js';
import { SequenceTracker } from '../src/bus/sequence-tracker.js';

describe('bus wire format', () => {
  it('round-trips every kind of message', () => {
    const messages: BusMessage[] = [
      { v: 1, origin: 'a', seq: 1, kind: 'keys', keys: ['x', 'é*'] },
      { v: 1, origin: 'a', seq: 2, kind: 'pattern', pattern: 'user:*' },
      { v: 1, origin: 'a', seq: 3, kind: 'clear' },
      { v: 1, origin: 'a', seq: 1, stream: '10.0.0.1:6379', kind: 'keys', keys: ['x'] },
    ];
    for (const m of messages) expect(decodeBusMessage(encodeBusMessage(m))).toEqual(m);
  });

  it.each([
    ['not a string', 42],
    ['not JSON', '{'],
    ['an array', '[]'],
    ['a wrong version', '{"v":2,"origin":"a","seq":1,"kind":"clear"}'],
    ['no origin', '{"v":1,"seq":1,"kind":"clear"}'],
    ['a bad seq', '{"v":1,"origin":"a","seq":0,"kind":"clear"}'],
    ['an unknown kind', '{"v":1,"origin":"a","seq":1,"kind":"nuke"}'],
    ['keys that are not strings', '{"v":1,"origin":"a","seq":1,"kind":"keys","keys":[1]}'],
    ['an empty stream', '{"v":1,"origin":"a","seq":1,"stream":"","kind":"clear"}'],
    ['a stream that is not a string', '{"v":1,"origin":"a","seq":1,"stream":7,"kind":"clear"}'],
    ['an oversized stream', `{"v":1,"origin":"a","seq":1,"stream":"${'s'.repeat(257)}","kind":"clear"}`],
    [
      'an oversized message',
      `{"v":1,"origin":"a","seq":1,"kind":"keys","keys":["${'x'.repeat(1024 * 1024)}"]}`,
    ],
  ])('drops %s as malformed', (_what, text) => {
    expect(() => decodeBusMessage(text)).toThrow(MalformedBusMessageError);
  });
});

describe('SequenceTracker', () => {
  it('accepts consecutive sequence numbers per origin and reports a gap', () => {
    const tracker = new SequenceTracker();
    expect(tracker.accept({ origin: 'a', seq: 5 })).toBe(true);
    expect(tracker.accept({ origin: 'a', seq: 6 })).toBe(true);
    expect(tracker.accept({ origin: 'b', seq: 1 })).toBe(true);
    expect(tracker.accept({ origin: 'a', seq: 8 })).toBe(false);
    expect(tracker.accept({ origin: 'a', seq: 9 })).toBe(true);
  });
  it('numbers each stream of an origin on its own, and never confuses two (origin, stream) pairs', () => {
    const tracker = new SequenceTracker();
    expect(tracker.accept({ origin: 'a', seq: 1 })).toBe(true);
    expect(tracker.accept({ origin: 'a', stream: 'n1', seq: 1 })).toBe(true);
    expect(tracker.accept({ origin: 'a', stream: 'n2', seq: 1 })).toBe(true);
    expect(tracker.accept({ origin: 'a', stream: 'n1', seq: 2 })).toBe(true);
    expect(tracker.accept({ origin: 'a', seq: 2 })).toBe(true);
    expect(tracker.accept({ origin: 'a', stream: 'n2', seq: 3 })).toBe(false);
    // 'ab' + stream 'c' and 'a' + stream 'bc' are different senders' streams.
    expect(tracker.accept({ origin: 'ab', stream: 'c', seq: 4 })).toBe(true);
    expect(tracker.accept({ origin: 'a', stream: 'bc', seq: 1 })).toBe(true);
    expect(tracker.accept({ origin: 'ab', stream: 'c', seq: 5 })).toBe(true);
  });

  it('forgets the oldest origin past its bound', () => {
    const tracker = new SequenceTracker(2);
    tracker.accept({ origin: 'a', seq: 1 });
    tracker.accept({ origin: 'b', seq: 1 });
    tracker.accept({ origin: 'c', seq: 1 });
    expect(tracker.accept({ origin: 'a', seq: 7 })).toBe(true);
  });
});

describe('LocalBus', () => {
  it('delivers to every other endpoint of its channel, never back to the sender', async () => {
    const channel = new LocalBusChannel();
    const a = new LocalBus({ channel, id: 'a' });
    const b = new LocalBus({ channel, id: 'b' });
    const got: Record<string, BusMessage[]> = { a: [], b: [] };
    for (const [name, bus] of [
      ['a', a],
      ['b', b],
    ] as const) {
      await bus.subscribe({
        invalidate: (m) => got[name]!.push(m),
        suspend: () => {},
        reset: () => {},
        error: () => {},
      });
    }
    await a.publish({ kind: 'keys', keys: ['k'] });
    await new Promise((r) => setTimeout(r, 0));
    expect(got.a).toEqual([]);
    expect(got.b).toEqual([{ v: 1, origin: 'a', seq: 1, kind: 'keys', keys: ['k'] }]);
  });

  it('drops messages while disconnected and reports a reset when reconnected', async () => {
    const channel = new LocalBusChannel();
    const a = new LocalBus({ channel });
    const b = new LocalBus({ channel });
    const events: string[] = [];
    await b.subscribe({
      invalidate: (m) => events.push(`msg ${m.seq}`),
      suspend: (r) => events.push(`suspend ${r}`),
      reset: (r) => events.push(`reset ${r}`),
      error: () => {},
    });
    b.disconnect();
    await a.publish({ kind: 'clear' });
    await new Promise((r) => setTimeout(r, 0));
    b.reconnect();
    await a.publish({ kind: 'clear' });
    await new Promise((r) => setTimeout(r, 0));
    expect(events).toEqual(['suspend disconnect', 'reset reconnect', 'msg 2']);
  });

  it('lets a scheduler choose the order of deliveries', async () => {
    const pending: Array<() => void> = [];
    const channel = new LocalBusChannel({ schedule: (deliver) => pending.push(deliver) });
    const a = new LocalBus({ channel });
    const b = new LocalBus({ channel });
    const seqs: number[] = [];
    await b.subscribe({
      invalidate: (m) => seqs.push(m.seq),
      suspend: () => {},
      reset: () => {},
      error: () => {},
    });
    await a.publish({ kind: 'clear' });
    await a.publish({ kind: 'clear' });
    for (const deliver of pending.reverse()) deliver();
    expect(seqs).toEqual([2, 1]);
  });
});
