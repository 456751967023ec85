// The Jaeger JSON model as /api/traces and /api/traces/{id} answer it, and the
// server's critical path (/api/v1/traces/{id}/critical-path).

export interface KeyValue {
  key: string;
  type?: string;
  value: unknown;
}

export interface Reference {
  refType: 'CHILD_OF' | 'FOLLOWS_FROM' | string;
  traceID: string;
  spanID: string;
}

export interface Log {
  timestamp: number; // µs
  fields: KeyValue[];
}

export interface Process {
  serviceName: string;
  tags?: KeyValue[];
}

export interface Span {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: Reference[] | null;
  startTime: number; // Unix µs
  duration: number; // µs
  tags?: KeyValue[] | null;
  logs?: Log[] | null;
  processID?: string;
  process?: Process;
  warnings?: string[] | null;
}

export interface Trace {
  traceID: string;
  spans: Span[];
  processes?: Record<string, Process>;
  warnings?: string[] | null;
}

export interface Envelope<T> {
  data: T;
  total?: number;
  limit?: number;
  offset?: number;
  errors?: { code: number; msg: string }[] | null;
}

export interface CriticalPathSegment {
  span_id: string;
  service: string;
  operation: string;
  start_offset_ns: number;
  duration_ns: number;
}

export interface CriticalPath {
  traceID: string;
  duration_ns: number;
  root_span_id: string;
  segments: CriticalPathSegment[];
  services: { service: string; critical_path_ns: number; share: number }[];
  self_time_ns?: Record<string, number>;
}

// The service of a span: its embedded process, else the trace's process table.
export function serviceOf(span: Span, processes: Record<string, Process> | undefined): string {
  if (span.process?.serviceName) return span.process.serviceName;
  const p = span.processID !== undefined ? processes?.[span.processID] : undefined;
  return p?.serviceName ?? 'unknown';
}

export function processOf(span: Span, processes: Record<string, Process> | undefined): Process | undefined {
  if (span.process) return span.process;
  return span.processID !== undefined ? processes?.[span.processID] : undefined;
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 'TRUE' || v === 'True';
}

// A span failed if it carries error=true or otel.status_code=ERROR.
export function isErrorSpan(span: Span): boolean {
  for (const t of span.tags ?? []) {
    if (t.key === 'error' && truthy(t.value)) return true;
    if (t.key === 'otel.status_code' && String(t.value).toUpperCase() === 'ERROR') return true;
  }
  return false;
}
