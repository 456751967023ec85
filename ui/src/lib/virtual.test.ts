import { describe, expect, it } from 'vitest';

import { viewWindow } from './virtual';

describe('viewWindow', () => {
  it('renders the rows in view plus the overscan, clamped to the list', () => {
    expect(viewWindow(0, 220, 1000, 22, 5)).toEqual({ first: 0, last: 15 });
    expect(viewWindow(2200, 220, 1000, 22, 5)).toEqual({ first: 95, last: 115 });
    expect(viewWindow(21_900, 220, 1000, 22, 5)).toEqual({ first: 990, last: 1000 });
    expect(viewWindow(0, 220, 3, 22, 5)).toEqual({ first: 0, last: 3 });
    expect(viewWindow(500, 220, 0, 22, 5)).toEqual({ first: 0, last: 0 });
  });

  it('keeps the DOM small for 50,000 rows anywhere in the list', () => {
    for (const top of [0, 123_456, 50_000 * 22 - 600]) {
      const w = viewWindow(top, 600, 50_000, 22, 8);
      expect(w.last - w.first).toBeLessThanOrEqual(Math.ceil(600 / 22) + 1 + 16);
      expect(w.first * 22).toBeLessThanOrEqual(top);
      expect(w.last * 22).toBeGreaterThanOrEqual(Math.min(50_000 * 22, top + 600));
    }
  });
});
