// A small uPlot time chart: lines, an optional band between two of them
// (the detector's expected range) and point-only series (anomaly marks).

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  dash?: number[];
  pointsOnly?: boolean;  // marks, no line
  pointSize?: number;    // points on a line (e.g. lone values of a sparse series)
  stepped?: boolean;     // a step line (replica counts)
  width?: number;
}

interface Props {
  title: string;
  data: uPlot.AlignedData;
  series: ChartSeries[];
  band?: [number, number];          // indices (1-based, as in data) of high and low
  format?: (v: number) => string;   // y axis and legend values
  height?: number;
  yMin0?: boolean;
  testid?: string;
}

export function TimeChart({ title, data, series, band, format, height = 170, yMin0 = true, testid }: Props) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const fmt = format ?? ((v: number) => String(Number(v.toPrecision(3))));
    const opts: uPlot.Options = {
      width: Math.max(280, host.clientWidth),
      height,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (_u, min, max) => {
          const lo = yMin0 ? Math.min(0, min) : min;
          const hi = max > lo ? max : lo + 1;
          return [lo, hi + (hi - lo) * 0.08];
        } },
      },
      axes: [
        { size: 28 },
        { size: 58, values: (_u, vals) => vals.map((v) => (v === null ? '' : fmt(v))) },
      ],
      series: [
        {},
        ...series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? (s.pointsOnly ? 0 : 1.5),
          dash: s.dash,
          value: (_u, v) => (v === null || v === undefined ? '–' : fmt(v)),
          spanGaps: false,
          ...(s.pointsOnly
            ? { paths: () => null, points: { show: true, size: 8, fill: s.color, stroke: s.color } }
            : { points: s.pointSize ? { show: true, size: s.pointSize, fill: '#fff', stroke: s.color } : { show: false } }),
          ...(s.stepped ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
        })),
      ],
      bands: band ? [{ series: band, fill: 'rgba(78,121,167,0.15)' }] : undefined,
    };
    const plot = new uPlot(opts, data, host);
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, host.clientWidth);
      if (w !== plot.width) plot.setSize({ width: w, height });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [data, series, band, height]);
  const points = (data[0] as ArrayLike<number>).length;
  return (
    <div class="chart" data-testid={testid} data-points={points}>
      <div class="chart-title">{title}</div>
      {points === 0 ? <div class="muted chart-empty">no data in this range</div> : <div ref={el} />}
    </div>
  );
}
