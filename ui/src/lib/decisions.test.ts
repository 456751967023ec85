import { describe, expect, it } from 'vitest';

import type { Decision } from './api';
import { direction, formatInput, orderedInputs, replicaSeries } from './decisions';

const d = (service: string, time_s: number, current: number, desired: number, ready?: number): Decision => ({
  time_s, policy: 'ariadne', service, current, desired,
  inputs: ready === undefined ? { rate: 1 } : { rate: 1, ready }, reason: '',
});

describe('decisions', () => {
  it('builds per-service replica series, oldest first, from newest-first decisions', () => {
    const s = replicaSeries([d('b', 30, 2, 2, 2), d('a', 20, 1, 3, 1), d('b', 10, 1, 2), d('a', 10, 1, 1, 1)]);
    expect(s.map((x) => x.service)).toEqual(['a', 'b']);
    expect(s[0]).toEqual({ service: 'a', times: [10, 20], desired: [1, 3], current: [1, 1], ready: [1, 1], changes: 1 });
    expect(s[1]).toEqual({ service: 'b', times: [10, 30], desired: [2, 2], current: [1, 2], ready: [null, 2], changes: 1 });
    expect(replicaSeries([])).toEqual([]);
  });

  it('orders and formats inputs', () => {
    expect(orderedInputs({ zeta: 1, ready: 4, rate: 2, service_time_s: 0.02 }).map(([k]) => k))
      .toEqual(['rate', 'service_time_s', 'ready', 'zeta']);
    expect(formatInput('service_time_s', 0.0201)).toBe('20.1ms');
    expect(formatInput('wait_budget_s', 1.5)).toBe('1.5s');
    expect(formatInput('utilisation', 0.74)).toBe('74%');
    expect(formatInput('rate', 148.234)).toBe('148.2');
    expect(formatInput('ready', 4)).toBe('4');
  });

  it('names the direction', () => {
    expect([direction(d('a', 0, 1, 3)), direction(d('a', 0, 3, 1)), direction(d('a', 0, 2, 2))]).toEqual(['up', 'down', 'hold']);
  });
});
