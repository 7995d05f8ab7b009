/** The ledger counts what the delivery verdict rests on: losses, duplicates, order. */
import { describe, expect, test } from 'vitest';
import { DeliveryLedger, encodeMessage } from './ledger.js';

const TAG = 0xc0ffee;

function ledger(n: number): DeliveryLedger {
  const l = new DeliveryLedger(TAG, n);
  for (let i = 0; i < n; i++) l.published(i);
  return l;
}

describe('DeliveryLedger', () => {
  test('everything acknowledged and received once: no loss, no duplicate, in order', () => {
    const l = ledger(5);
    for (let i = 0; i < 5; i++) { l.acked(i); l.received(encodeMessage(TAG, i, 16), false); }
    expect(l.allAcknowledgedReceived()).toBe(true);
    expect(l.summary()).toMatchObject({ published: 5, acknowledged: 5, received: 5, receipts: 5, lost: 0, duplicates: 0, orderViolations: 0, unsettled: 0 });
  });

  test('an acknowledged message never received is a loss; an unacknowledged one is reported apart', () => {
    const l = ledger(4);
    l.acked(0); l.acked(1); l.acked(2);
    l.failed(3, 'sessionLost');
    l.received(encodeMessage(TAG, 0, 8), false);
    l.received(encodeMessage(TAG, 2, 8), false);
    expect(l.allAcknowledgedReceived()).toBe(false);
    expect(l.summary()).toMatchObject({ lost: 1, lostExamples: [1], lostUnacknowledged: 1, failed: { sessionLost: 1 } });
  });

  test('receipts beyond the first are duplicates, counted with their DUP flag', () => {
    const l = ledger(3);
    for (let i = 0; i < 3; i++) l.acked(i);
    l.received(encodeMessage(TAG, 0, 8), false);
    l.received(encodeMessage(TAG, 1, 8), false);
    l.received(encodeMessage(TAG, 1, 8), true);
    l.received(encodeMessage(TAG, 1, 8), false);
    l.received(encodeMessage(TAG, 2, 8), false);
    expect(l.summary()).toMatchObject({ received: 3, receipts: 5, duplicates: 2, duplicatesFlaggedDup: 1, duplicateExamples: [1], orderViolations: 0 });
  });

  test('a first receipt of a lower number after a higher one is an order violation; a duplicate is not', () => {
    const l = ledger(4);
    for (const i of [0, 2, 1, 3, 2]) l.received(encodeMessage(TAG, i, 8), false);
    expect(l.summary()).toMatchObject({ orderViolations: 1, orderExamples: [{ seq: 1, after: 2 }] });
  });

  test('payloads of another run are foreign, not messages', () => {
    const l = ledger(2);
    expect(l.received(encodeMessage(TAG + 1, 0, 8), false)).toBe(-1);
    expect(l.received(Buffer.from('hi'), false)).toBe(-1);
    expect(l.received(encodeMessage(TAG, 99, 8), false)).toBe(-1);
    expect(l.summary()).toMatchObject({ foreign: 3, received: 0 });
  });
});
