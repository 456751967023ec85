import { describe, expect, it } from 'vitest';

import type { Anomaly } from './api';
import {
  alignPoints, anomaliesFor, anomalyColumns, columnOn, operationRows, rangeSeconds, withAnomalyTimes, withGaps,
} from './series';

const an = (time: number, extra: Partial<Anomaly> = {}): Anomaly => ({
  series: 'error_ratio', labels: { service: 'a', span_kind: 'SPAN_KIND_SERVER' },
  time: new Date(time * 1000).toISOString().replace('.000Z', 'Z'), value: 0.3, score: 0.9,
  expected_low: 0, expected_high: 0.05, reason: 'outlier', ...extra,
});

describe('series to uPlot data', () => {
  it('aligns series on the union of their times', () => {
    const { xs, ys } = alignPoints([[[10, 1], [30, 3]], [[20, 2], [30, 4]], undefined]);
    expect(xs).toEqual([10, 20, 30]);
    expect(ys).toEqual([[1, null, 3], [null, 2, 4], [null, null, null]]);
  });

  it('puts values on given times, scaled', () => {
    expect(columnOn([10, 20, 30], [[20, 0.5]], 100)).toEqual([null, 50, null]);
  });

  it('turns anomalies into a band and marks on the chart times', () => {
    const xs = [10, 20, 30];
    const c = anomalyColumns(xs, [an(20), an(99)], 100);
    expect(c.low).toEqual([null, 0, null]);
    expect(c.high).toEqual([null, 5, null]);
    expect(c.marks).toEqual([null, 30, null]);
    expect(c.reasons[1]).toBe('outlier (score 0.90)');
  });

  it('adds the times only anomalies have, within the range', () => {
    expect(withAnomalyTimes([10, 30], [an(20), an(30), an(500)], 0, 100)).toEqual([10, 20, 30]);
  });

  it('picks the anomalies of one chart', () => {
    const list = [
      an(1), an(2, { labels: { service: 'b', span_kind: 'SPAN_KIND_SERVER' } }),
      an(3, { labels: { service: 'a', span_kind: 'SPAN_KIND_CLIENT' } }),
      an(4, { labels: { service: 'a', span_kind: 'SPAN_KIND_SERVER', operation: 'x' } }),
      an(5, { series: 'latency_seconds', labels: { service: 'a', span_kind: 'SPAN_KIND_SERVER', quantile: '0.95' } }),
      an(6, { series: 'latency_seconds', labels: { service: 'a', span_kind: 'SPAN_KIND_SERVER', quantile: '0.5' } }),
    ];
    expect(anomaliesFor(list, 'error_ratio', 'a', 'SPAN_KIND_SERVER').map((a) => a.time)).toEqual([list[0].time]);
    expect(anomaliesFor(list, 'error_ratio', 'a').length).toBe(2);
    expect(anomaliesFor(list, 'latency_seconds', 'a', 'SPAN_KIND_SERVER', '0.95').map((a) => a.time)).toEqual([list[4].time]);
  });

  it('builds the operations table, weighted by calls, busiest first', () => {
    const l = (operation: string, extra: Record<string, string> = {}) => ({ operation, service: 'a', span_kind: 'SPAN_KIND_SERVER', ...extra });
    const rows = operationRows(
      [{ labels: l('GET /'), points: [[0, 1], [10, 3]] }, { labels: l('POST /'), points: [[0, 5]] },
        { labels: { service: 'a', span_kind: 'SPAN_KIND_SERVER' }, points: [[0, 100]] }],
      [{ labels: l('GET /'), points: [[0, 0], [10, 0.4]] }],
      [{ labels: l('GET /', { quantile: '0.95' }), points: [[0, 0.1], [10, 0.2]] },
        { labels: l('GET /', { quantile: '0.5' }), points: [[0, 0.05]] },
        { labels: l('POST /', { quantile: '0.99' }), points: [[0, 1]] }]);
    expect(rows.map((r) => r.operation)).toEqual(['POST /', 'GET /']);
    expect(rows[1]).toMatchObject({ rate: 2, p50: 0.05, p99: null });
    expect(rows[1].errorRatio).toBeCloseTo(0.3);
    expect(rows[1].p95).toBeCloseTo(0.175);
    expect(rows[0]).toMatchObject({ rate: 5, errorRatio: null, p99: 1 });
  });

  it('reads ranges', () => {
    expect(rangeSeconds('15m')).toBe(900);
    expect(rangeSeconds('bogus')).toBe(3600);
    expect(rangeSeconds(null, '6h')).toBe(21600);
  });
});

describe('withGaps', () => {
  it('breaks lines where steps are missing', () => {
    expect(withGaps([0, 10, 20, 60, 70], 10)).toEqual([0, 10, 20, 30, 60, 70]);
    expect(withGaps([0, 10], 0)).toEqual([0, 10]);
    expect(columnOn(withGaps([0, 40], 10), [[0, 1], [40, 2]])).toEqual([1, null, 2]);
  });
});
