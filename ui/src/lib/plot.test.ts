import { describe, expect, it } from 'vitest';

import { nearestPoint } from './plot';

describe('nearestPoint', () => {
  const pts: [number, number][] = [[10, 10], [50, 50], [54, 50], [200, 5]];
  it('picks the nearest point within the radius', () => {
    expect(nearestPoint(pts, 11, 9, 12)).toBe(0);
    expect(nearestPoint(pts, 51, 50, 12)).toBe(1);
    expect(nearestPoint(pts, 53, 51, 12)).toBe(2);
    expect(nearestPoint(pts, 120, 120, 12)).toBe(-1);
    expect(nearestPoint([], 0, 0, 12)).toBe(-1);
  });
});
