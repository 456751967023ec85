// The trace page: header, the critical path's share per service, the
// virtualised waterfall and the selected span's details.

import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';

import { SpanDetails } from '../components/span-details';
import { Waterfall } from '../components/waterfall';
import { fetchCriticalPath, fetchTrace } from '../lib/api';
import { serviceColor } from '../lib/colors';
import { formatDuration, formatTime } from '../lib/format';
import type { CriticalPath, Trace } from '../lib/jaeger';
import {
  buildTraceModel, collapseFromDepth, criticalRanges, revealSpan, toggle, visibleRows,
} from '../lib/trace';

type Loaded =
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'done'; trace: Trace };

type CpState =
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'done'; cp: CriticalPath };

export function TracePage({ id }: { id: string }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  const [cp, setCp] = useState<CpState>({ state: 'loading' });

  useEffect(() => {
    const ac = new AbortController();
    // The critical path is asked for once the trace is here: for a large trace
    // both answers take the server a while, and the waterfall comes first.
    fetchTrace(id, ac.signal).then(
      (trace) => {
        setLoaded({ state: 'done', trace });
        fetchCriticalPath(id, ac.signal).then(
          (c) => setCp({ state: 'done', cp: c }),
          (e) => !ac.signal.aborted && setCp({ state: 'error', message: String(e.message ?? e) }));
      },
      (e) => !ac.signal.aborted && setLoaded({ state: 'error', message: String(e.message ?? e) }));
    return () => ac.abort();
  }, [id]);

  if (loaded.state === 'loading') return <div class="message">Loading trace {id}…</div>;
  if (loaded.state === 'error') return <div class="error">Trace {id}: {loaded.message}</div>;
  return <TraceView trace={loaded.trace} cp={cp} />;
}

function TraceView({ trace, cp }: { trace: Trace; cp: CpState }) {
  const model = useMemo(() => buildTraceModel(trace), [trace]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(() => new Set());
  const [selected, setSelected] = useState(-1);
  const [showCritical, setShowCritical] = useState(true);
  const [scrollToRow, setScrollToRow] = useState<{ row: number; seq: number } | null>(null);
  const rows = useMemo(() => visibleRows(model, collapsed), [model, collapsed]);
  const critical = useMemo(
    () => (cp.state === 'done' ? criticalRanges(model, cp.cp) : null), [model, cp]);

  const onToggle = useCallback((i: number) => setCollapsed((c) => toggle(c, i)), []);
  const onSelectRow = useCallback((i: number) => setSelected((s) => (s === i ? -1 : i)), []);

  // Selecting from the details (a parent, a reference) reveals and scrolls to the span.
  const reveal = (i: number) => {
    const next = revealSpan(model, collapsed, i);
    setCollapsed(next);
    setSelected(i);
    const r = visibleRows(model, next).indexOf(i);
    if (r >= 0) setScrollToRow((s) => ({ row: r, seq: (s?.seq ?? 0) + 1 }));
  };

  // Keys on the focused waterfall: up/down move the selection, left collapses
  // (or goes to the parent), right expands, Escape clears the selection.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const at = selected >= 0 ? rows.indexOf(selected) : -1;
    const go = (r: number) => {
      const row = Math.max(0, Math.min(rows.length - 1, r));
      if (rows.length === 0) return;
      setSelected(rows[row]);
      setScrollToRow((s) => ({ row, seq: (s?.seq ?? 0) + 1 }));
    };
    if (e.key === 'ArrowDown' || e.key === 'j') go(at + 1);
    else if (e.key === 'ArrowUp' || e.key === 'k') go(at < 0 ? 0 : at - 1);
    else if (e.key === 'ArrowLeft' && at >= 0) {
      const node = model.nodes[selected];
      if (node.children.length > 0 && !collapsed.has(selected)) setCollapsed((c) => toggle(c, selected));
      else if (node.parent >= 0) go(rows.indexOf(node.parent));
    } else if (e.key === 'ArrowRight' && at >= 0) {
      if (collapsed.has(selected)) setCollapsed((c) => toggle(c, selected));
    } else if (e.key === 'Escape') setSelected(-1);
    else return;
    e.preventDefault();
  };

  const root = model.root >= 0 ? model.nodes[model.root] : undefined;
  useEffect(() => {
    document.title = root ? `${root.service}: ${root.span.operationName} · Ariadne` : 'Trace · Ariadne';
  }, [root]);
  const cpDone = cp.state === 'done' ? cp.cp : null;

  return (
    <div class="trace-page" data-trace-id={trace.traceID}>
      <header class="trace-header">
        <h2 data-testid="trace-title">
          {root ? <>{root.service}: {root.span.operationName}</> : 'empty trace'}
        </h2>
        <div class="trace-facts">
          <span>Trace <span class="mono" data-testid="trace-id">{trace.traceID}</span></span>
          <span>Start {formatTime(model.startUs)}</span>
          <span>Duration <strong>{formatDuration(model.durationUs)}</strong></span>
          <span>Spans <strong data-testid="span-count">{model.nodes.length}</strong></span>
          <span>Depth {model.maxDepth + 1}</span>
          {model.roots.length > 1 && <span class="warn">{model.roots.length} roots (spans whose parent is missing)</span>}
          {model.errorCount > 0 && <span class="badge err">{model.errorCount} errors</span>}
        </div>
        <div class="chips">
          {model.services.map((s) => (
            <span class="chip" key={s.service} style={{ borderColor: serviceColor(s.service) }}>
              <span class="svc-dot" style={{ background: serviceColor(s.service) }} />
              {s.service} {s.spans}{s.errors > 0 ? ` (${s.errors} err)` : ''}
            </span>
          ))}
        </div>
      </header>
      <div class="toolbar">
        <button onClick={() => setCollapsed(new Set())}>Expand all</button>
        <button onClick={() => setCollapsed(collapseFromDepth(model, 0))}>Collapse all</button>
        <button onClick={() => setCollapsed(collapseFromDepth(model, 1))}>Show depth 2</button>
        <label>
          <input type="checkbox" checked={showCritical}
            onChange={(e) => setShowCritical((e.currentTarget as HTMLInputElement).checked)} />
          <span class="crit-swatch" /> Critical path
        </label>
        <span class="muted">{rows.length} of {model.nodes.length} rows</span>
        {cp.state === 'error' && <span class="warn">critical path unavailable: {cp.message}</span>}
      </div>
      <div class="trace-body">
        <Waterfall
          model={model}
          rows={rows}
          collapsed={collapsed}
          critical={critical}
          showCritical={showCritical}
          selected={selected}
          onSelect={onSelectRow}
          onToggle={onToggle}
          scrollToRow={scrollToRow}
          onKeyDown={onKeyDown}
        />
        <aside class="side">
          {cpDone && (
            <section class="cp" data-testid="critical-path">
              <h4>Critical path: {formatDuration(cpDone.duration_ns / 1000)}, {cpDone.segments.length} segments</h4>
              <table class="cp-table">
                <thead>
                  <tr><th>Service</th><th>Time</th><th>Share</th><th /></tr>
                </thead>
                <tbody>
                  {cpDone.services.map((s) => (
                    <tr key={s.service} data-service={s.service}>
                      <td>
                        <span class="svc-dot" style={{ background: serviceColor(s.service) }} />
                        {s.service}
                      </td>
                      <td class="num">{formatDuration(s.critical_path_ns / 1000)}</td>
                      <td class="num">{(s.share * 100).toFixed(1)}%</td>
                      <td class="share-cell">
                        <div class="share-bar" style={{ width: `${s.share * 100}%`, background: serviceColor(s.service) }} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {critical && critical.unmatched > 0 && (
                <div class="warn">{critical.unmatched} segments name spans not in this trace</div>
              )}
            </section>
          )}
          {selected >= 0 && (
            <SpanDetails
              trace={trace}
              model={model}
              index={selected}
              selfTimeNs={cpDone?.self_time_ns?.[model.nodes[selected].span.spanID]}
              onSelect={reveal}
              onClose={() => setSelected(-1)}
            />
          )}
          {selected < 0 && (
            <div class="muted hint">
              Click a span for its attributes, events and resource; ↑/↓ move between spans, ←/→
              collapse and expand.
            </div>
          )}
        </aside>
      </div>
    </div>
  );
}
