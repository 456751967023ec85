// The trace waterfall, virtualised: one scrolling container whose content is
// as tall as all rows (fixed row height), and only the rows in view (plus a
// few either side) in the DOM. Rows are absolutely positioned, keyed by span,
// so scrolling re-renders a few dozen small elements.

import { memo } from 'preact/compat';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

import { serviceColor } from '../lib/colors';
import { formatDuration } from '../lib/format';
import { viewWindow } from '../lib/virtual';
import { rangeToFractions, type CriticalRanges, type SpanNode, type TraceModel } from '../lib/trace';

export const kRowHeight = 22;
const kOverscan = 8;
const kMaxIndent = 40; // deeper spans are indented like depth 40 (their depth is in the tooltip)

interface Props {
  model: TraceModel;
  rows: Int32Array;
  collapsed: ReadonlySet<number>;
  critical: CriticalRanges | null;
  showCritical: boolean;
  selected: number;
  onSelect: (index: number) => void;
  onToggle: (index: number) => void;
  scrollToRow: { row: number; seq: number } | null;
  onKeyDown?: (e: KeyboardEvent) => void;
}

export function Waterfall(props: Props) {
  const { model, rows } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(600);
  const [scrollbar, setScrollbar] = useState(0); // the header leaves room for it, to align
  const frame = useRef(0);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => {
      setViewHeight(el.clientHeight);
      setScrollbar(el.offsetWidth - el.clientWidth);
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  useEffect(() => {
    const el = scroller.current;
    const target = props.scrollToRow;
    if (!el || !target) return;
    const top = target.row * kRowHeight;
    if (top < el.scrollTop || top + kRowHeight > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, top - el.clientHeight / 3);
    }
  }, [props.scrollToRow]);

  const onScroll = () => {
    // Synchronously: the browser paints the new scroll position with the rows
    // of this frame (a rAF here would show blank rows for a frame).
    const el = scroller.current;
    if (el) setScrollTop(el.scrollTop);
  };

  const win = viewWindow(scrollTop, viewHeight, rows.length, kRowHeight, kOverscan);
  const items = [];
  for (let r = win.first; r < win.last; r++) {
    const i = rows[r];
    const node = model.nodes[i];
    items.push(
      <Row
        key={i}
        row={r}
        node={node}
        traceDurationUs={model.durationUs}
        collapsed={props.collapsed.has(i)}
        ranges={props.showCritical ? props.critical?.bySpan.get(i) : undefined}
        selected={props.selected === i}
        onSelect={props.onSelect}
        onToggle={props.onToggle}
      />);
  }

  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div class="waterfall">
      <div class="wf-header" style={{ paddingRight: `${scrollbar}px` }}>
        <div class="wf-name-col">Service: operation</div>
        <div class="wf-time-col">
          {ticks.map((t) => (
            <span class="tick" key={t} style={{ left: `${t * 100}%` }}>
              {formatDuration(model.durationUs * t)}
            </span>
          ))}
        </div>
      </div>
      <div
        class="wf-scroll"
        ref={scroller}
        onScroll={onScroll}
        onKeyDown={props.onKeyDown}
        tabIndex={0}
        data-testid="waterfall"
        data-row-count={rows.length}
        data-span-count={model.nodes.length}
      >
        <div class="wf-content" style={{ height: `${rows.length * kRowHeight}px` }}>
          {items}
        </div>
      </div>
    </div>
  );
}

interface RowProps {
  row: number;
  node: SpanNode;
  traceDurationUs: number;
  collapsed: boolean;
  ranges: { startUs: number; endUs: number }[] | undefined;
  selected: boolean;
  onSelect: (index: number) => void;
  onToggle: (index: number) => void;
}

const Row = memo(function Row({ row, node, traceDurationUs, collapsed, ranges, selected, onSelect, onToggle }: RowProps) {
  const color = serviceColor(node.service);
  const bar = rangeToFractions({ startUs: node.offsetUs, endUs: node.offsetUs + node.durationUs }, traceDurationUs);
  const hasChildren = node.children.length > 0;
  const indent = Math.min(node.depth, kMaxIndent) * 12;
  const critical = ranges !== undefined && ranges.length > 0;
  // The duration goes right of the bar, else left of it, else inside its end.
  const right = bar.left + bar.width;
  const labelStyle = right < 0.8 ? { left: `calc(${right * 100}% + 4px)` } :
    bar.left > 0.12 ? { right: `calc(${(1 - bar.left) * 100}% + 4px)` } :
      { right: `calc(${(1 - right) * 100}% + 4px)` };
  return (
    <div
      class={`wf-row${selected ? ' selected' : ''}${node.error ? ' error' : ''}`}
      style={{ top: `${row * kRowHeight}px` }}
      data-row={row}
      data-span-id={node.span.spanID}
      data-critical={critical ? 'true' : undefined}
      onClick={() => onSelect(node.index)}
    >
      <div
        class="wf-name-col"
        style={{ paddingLeft: `${indent + 4}px` }}
        title={`${node.service}: ${node.span.operationName} (depth ${node.depth})`}
      >
        {hasChildren ? (
          <button
            class="toggle"
            aria-label={collapsed ? 'expand' : 'collapse'}
            aria-expanded={!collapsed}
            onClick={(e) => {
              e.stopPropagation();
              onToggle(node.index);
            }}
          >
            {collapsed ? '▸' : '▾'}
          </button>
        ) : (
          <span class="toggle-space" />
        )}
        <span class="svc-dot" style={{ background: color }} />
        <span class="svc">{node.service}</span>
        <span class="op">{node.span.operationName}</span>
        {collapsed && <span class="badge">{node.children.length}+</span>}
        {node.error && <span class="badge err">error</span>}
      </div>
      <div class="wf-time-col">
        <div
          class="bar"
          style={{ left: `${bar.left * 100}%`, width: `max(1px, ${bar.width * 100}%)`, background: color }}
        />
        {ranges?.map((r, k) => {
          const f = rangeToFractions(r, traceDurationUs);
          return (
            <div
              class="crit"
              key={k}
              data-critical="true"
              style={{ left: `${f.left * 100}%`, width: `max(1px, ${f.width * 100}%)` }}
            />
          );
        })}
        <span class="bar-label" style={labelStyle}>
          {formatDuration(node.durationUs)}
        </span>
      </div>
    </div>
  );
});
