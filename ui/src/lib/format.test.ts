import { describe, expect, it } from 'vitest';

import { formatDuration } from './format';

describe('formatDuration', () => {
  it('picks a unit', () => {
    expect(formatDuration(0.5)).toBe('500ns');
    expect(formatDuration(1.234)).toBe('1.23µs');
    expect(formatDuration(999)).toBe('999µs');
    expect(formatDuration(1500)).toBe('1.5ms');
    expect(formatDuration(250_000)).toBe('250ms');
    expect(formatDuration(1_500_000)).toBe('1.5s');
    expect(formatDuration(125_000_000)).toBe('2m5s');
  });
});
