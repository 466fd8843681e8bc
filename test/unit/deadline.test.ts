// withDeadline: a wait that settles in time says so; one that never settles is cut at the deadline.
import { describe, expect, it } from 'vitest';
import { withDeadline } from '../../shared/runtime/deadline.js';

describe('withDeadline', () => {
  it('is true when the work settles first, resolved or rejected', async () => {
    expect(await withDeadline(Promise.resolve('done'), Date.now() + 10_000)).toBe(true);
    expect(await withDeadline(Promise.reject(new Error('failed')), Date.now() + 10_000)).toBe(true);
  });

  it('is false when the work never settles', async () => {
    const never = new Promise<never>(() => undefined);
    expect(await withDeadline(never, Date.now() + 20)).toBe(false);
  });

  it('is false at once for a deadline already past', async () => {
    expect(await withDeadline(new Promise<never>(() => undefined), Date.now() - 1)).toBe(false);
  });
});
