// The selected span: its attributes, events, references and resource.

import { serviceColor } from '../lib/colors';
import { formatDuration, formatTime, formatValue } from '../lib/format';
import { processOf, type KeyValue, type Trace } from '../lib/jaeger';
import type { TraceModel } from '../lib/trace';
import { linkClick, traceUrl } from '../router';

interface Props {
  trace: Trace;
  model: TraceModel;
  index: number;
  selfTimeNs: number | undefined;
  onSelect: (index: number) => void;
  onClose: () => void;
}

function KvTable({ items, testid }: { items: KeyValue[] | null | undefined; testid?: string }) {
  if (!items || items.length === 0) return <div class="muted">none</div>;
  return (
    <table class="kv" data-testid={testid}>
      <tbody>
        {items.map((kv, k) => (
          <tr key={k}>
            <th>{kv.key}</th>
            <td>{formatValue(kv.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SpanDetails({ trace, model, index, selfTimeNs, onSelect, onClose }: Props) {
  const node = model.nodes[index];
  if (!node) return null;
  const span = node.span;
  const process = processOf(span, trace.processes);
  const parent = node.parent >= 0 ? model.nodes[node.parent] : undefined;
  return (
    <section class="details" data-testid="span-details" data-span-id={span.spanID}>
      <div class="details-head">
        <span class="svc-dot" style={{ background: serviceColor(node.service) }} />
        <span class="details-title"><strong>{node.service}</strong>: {span.operationName}</span>
        <button class="close" onClick={onClose} aria-label="close">×</button>
      </div>
      <table class="kv">
        <tbody>
          <tr><th>Span ID</th><td class="mono">{span.spanID}</td></tr>
          <tr><th>Start</th><td>{formatTime(span.startTime)} (+{formatDuration(node.offsetUs)})</td></tr>
          <tr><th>Duration</th><td>{formatDuration(node.durationUs)}</td></tr>
          {selfTimeNs !== undefined && <tr><th>Self time</th><td>{formatDuration(selfTimeNs / 1000)}</td></tr>}
          <tr><th>Depth</th><td>{node.depth}</td></tr>
          <tr>
            <th>Parent</th>
            <td>
              {parent ? (
                <a href="#" onClick={(e) => { e.preventDefault(); onSelect(parent.index); }}>
                  {parent.service}: {parent.span.operationName}
                </a>
              ) : 'none (root)'}
            </td>
          </tr>
          <tr><th>Children</th><td>{node.children.length}</td></tr>
        </tbody>
      </table>

      <h4>Attributes</h4>
      <KvTable items={span.tags} testid="span-tags" />

      <h4>Events ({span.logs?.length ?? 0})</h4>
      {(span.logs ?? []).map((log, k) => (
        <div class="event" key={k}>
          <div class="muted">+{formatDuration(log.timestamp - span.startTime)} into the span</div>
          <KvTable items={log.fields} />
        </div>
      ))}

      <h4>References ({span.references?.length ?? 0})</h4>
      {(span.references ?? []).length === 0 && <div class="muted">none</div>}
      <ul class="refs">
        {(span.references ?? []).map((r, k) => {
          const target = model.byId.get(r.spanID);
          const sameTrace = r.traceID === undefined || r.traceID === trace.traceID;
          return (
            <li key={k}>
              <span class="badge">{r.refType}</span>{' '}
              {sameTrace && target !== undefined ? (
                <a href="#" onClick={(e) => { e.preventDefault(); onSelect(target); }}>
                  {model.nodes[target].service}: {model.nodes[target].span.operationName}
                </a>
              ) : sameTrace ? (
                <span class="mono">{r.spanID} (not in this trace)</span>
              ) : (
                <a href={traceUrl(r.traceID)} onClick={linkClick} class="mono">
                  trace {r.traceID} / span {r.spanID}
                </a>
              )}
            </li>
          );
        })}
      </ul>

      <h4>Resource ({process?.serviceName ?? 'unknown'})</h4>
      <KvTable items={process?.tags} />

      {span.warnings && span.warnings.length > 0 && (
        <>
          <h4>Warnings</h4>
          <ul>{span.warnings.map((w, k) => <li key={k}>{w}</li>)}</ul>
        </>
      )}
    </section>
  );
}
