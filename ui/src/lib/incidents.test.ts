import { describe, expect, it } from 'vitest';

import type { Incident } from './api';
import {
  evidenceRows, formatEvidenceValue, incidentEnd, incidentLength, openIncidentServices, sortIncidents, timeline,
} from './incidents';

const inc = (id: number, opened: string, last: string, state: string, resolved: string | null = null): Incident => ({
  id, state, opened, last_anomaly: last, resolved, max_score: 0.9, anomaly_count: 3,
  ranking: [{ service: `svc${id}`, first_anomaly: opened, max_score: 0.9, anomalies: 3, own_series: true, evidence: '' }],
  root_causes: [], anomalies: [],
});

const t = (s: number) => new Date(s * 1000).toISOString();

describe('incidents', () => {
  const list = [
    inc(1, t(1000), t(1300), 'resolved', t(1600)),
    inc(3, t(3000), t(3100), 'open'),
    inc(2, t(2000), t(2050), 'resolved', t(2350)),
  ];

  it('sorts newest first', () => {
    expect(sortIncidents(list).map((i) => i.id)).toEqual([3, 2, 1]);
  });

  it('ends open incidents now and resolved ones when resolved', () => {
    expect(incidentEnd(list[1], 4000)).toBe(4000);
    expect(incidentEnd(list[0], 4000)).toBe(1600);
    // A missing resolution time: the last anomaly.
    expect(incidentEnd(inc(4, t(10), t(50), 'resolved'), 4000)).toBe(50);
    expect(incidentLength(list[0], 4000)).toBe('10m0s');
  });

  it('places incidents on a shared timeline', () => {
    const tl = timeline(sortIncidents(list), 4000);
    expect(tl.start).toBe(1000);
    expect(tl.end).toBe(4000);
    const [b3, b2, b1] = tl.bars;
    expect(b1).toMatchObject({ id: 1, left: 0, open: false });
    expect(b1.width).toBeCloseTo(600 / 3000);
    expect(b2.left).toBeCloseTo(1000 / 3000);
    expect(b3).toMatchObject({ id: 3, open: true });
    expect(b3.left + b3.width).toBeCloseTo(1);
    expect(timeline([], 100).bars).toEqual([]);
    // Never narrower than the minimum.
    expect(timeline([inc(5, t(100), t(100), 'resolved', t(100))], 100000).bars[0].width).toBeCloseTo(0.004);
  });

  it('formats evidence by kind', () => {
    expect(formatEvidenceValue('latency', 0.1302)).toBe('130ms');
    expect(formatEvidenceValue('network', 0.000250)).toBe('250µs');
    expect(formatEvidenceValue('errors', 0.1517)).toBe('15.2%');
    expect(formatEvidenceValue('behaviour', 0.0008)).toBe('0.08%');
    expect(formatEvidenceValue('traffic', 28.93)).toBe('28.9/s');
    expect(formatEvidenceValue('resource', 1234.5)).toBe('1235');
    expect(formatEvidenceValue('resource', 0.51234)).toBe('0.512');
    const rows = evidenceRows([{ kind: 'errors', operation: '', share: 1, normal: 0.05, anomalous: 0.15 },
      { kind: 'resource', operation: 'cpu', share: 0.5, normal: 1, anomalous: 2, first: 1_700_000_000_000_000_000 }]);
    expect(rows[0]).toEqual({ kind: 'errors', operation: '—', share: '100.0%', normal: '5.0%', anomalous: '15.0%', first: '' });
    expect(rows[1].first).toBe('2023-11-14 22:13:20Z');
  });

  it('collects the services of open incidents', () => {
    const open = inc(7, t(1), t(2), 'open');
    open.root_causes = [{ service: 'redis', operation: '', score: 1, explanation: '', evidence: [], exemplar_trace_ids: [] }];
    expect([...openIncidentServices([...list, open])].sort()).toEqual(['redis', 'svc3', 'svc7']);
  });
});
