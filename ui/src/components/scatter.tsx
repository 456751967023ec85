// Duration over start time of the search results (uPlot); a click on a dot
// opens its trace.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { formatDuration } from '../lib/format';
import { nearestPoint } from '../lib/plot';
import type { TraceSummary } from '../lib/trace';

interface Props {
  traces: TraceSummary[];
  onOpen: (traceID: string) => void;
}

// Sorted by start time (uPlot wants ascending x); errors in their own series.
export function scatterData(traces: TraceSummary[]): { sorted: TraceSummary[]; data: uPlot.AlignedData } {
  const sorted = [...traces].sort((a, b) => a.startUs - b.startUs);
  const xs = sorted.map((t) => t.startUs / 1e6);
  const ok = sorted.map((t) => (t.errorCount === 0 ? t.durationUs / 1000 : null));
  const bad = sorted.map((t) => (t.errorCount > 0 ? t.durationUs / 1000 : null));
  return { sorted, data: [xs, ok, bad] };
}

export function Scatter({ traces, onOpen }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const openRef = useRef(onOpen);
  openRef.current = onOpen;

  useEffect(() => {
    const host = el.current;
    if (!host || traces.length === 0) return;
    const { sorted, data } = scatterData(traces);
    const opts: uPlot.Options = {
      width: Math.max(300, host.clientWidth),
      height: 160,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { size: 30 },
        { size: 60, values: (_u, vals) => vals.map((v) => formatDuration(v * 1000)) },
      ],
      series: [
        {},
        { label: 'duration', stroke: '#4e79a7', fill: '#4e79a7', paths: () => null,
          points: { show: true, size: 7, fill: '#4e79a7', stroke: '#2b5279' } },
        { label: 'error', stroke: '#d62728', fill: '#d62728', paths: () => null,
          points: { show: true, size: 7, fill: '#d62728', stroke: '#8a1212' } },
      ],
    };
    const plot = new uPlot(opts, data, host);
    // For tests and debugging: the plot and its traces in plot order.
    (host as HTMLDivElement & { __scatter?: unknown }).__scatter = { plot, sorted };
    const pointAt = (e: MouseEvent) => {
      const rect = plot.over.getBoundingClientRect();
      return nearestPoint(sorted.map((t) => [
        plot.valToPos(t.startUs / 1e6, 'x'), plot.valToPos(t.durationUs / 1000, 'y'),
      ] as [number, number]), e.clientX - rect.left, e.clientY - rect.top, 12);
    };
    const onClick = (e: MouseEvent) => {
      const i = pointAt(e);
      if (i >= 0) openRef.current(sorted[i].traceID);
    };
    const onMove = (e: MouseEvent) => {
      const i = pointAt(e);
      const t = sorted[i];
      plot.over.style.cursor = t ? 'pointer' : 'default';
      plot.over.title = t ? `${t.rootService}: ${t.rootOperation}, ${formatDuration(t.durationUs)}, ` +
        `${t.spanCount} spans${t.errorCount ? `, ${t.errorCount} errors` : ''}` : '';
    };
    plot.over.addEventListener('click', onClick);
    plot.over.addEventListener('mousemove', onMove);
    const ro = new ResizeObserver(() => {
      const w = Math.max(300, host.clientWidth);
      if (w !== plot.width) plot.setSize({ width: w, height: 160 });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      plot.over.removeEventListener('click', onClick);
      plot.over.removeEventListener('mousemove', onMove);
      plot.destroy();
    };
  }, [traces]);

  return <div class="scatter" ref={el} data-points={traces.length} />;
}
