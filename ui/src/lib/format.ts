// Durations (µs) and times for display.

export function formatDuration(us: number): string {
  if (!Number.isFinite(us)) return '–';
  const a = Math.abs(us);
  if (a < 1) return `${(us * 1000).toFixed(0)}ns`;
  if (a < 1000) return `${trim(us, a < 10 ? 2 : a < 100 ? 1 : 0)}µs`;
  if (a < 1e6) return `${trim(us / 1e3, a < 1e4 ? 2 : a < 1e5 ? 1 : 0)}ms`;
  if (a < 60e6) return `${trim(us / 1e6, 2)}s`;
  const m = Math.floor(a / 60e6);
  const s = (a - m * 60e6) / 1e6;
  return `${us < 0 ? '-' : ''}${m}m${s.toFixed(0)}s`;
}

function trim(v: number, digits: number): string {
  return String(Number(v.toFixed(digits)));
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

// Local date and time with milliseconds, from Unix µs.
export function formatTime(us: number): string {
  const d = new Date(us / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// "3m ago", "2h ago", from Unix µs.
export function formatAgo(us: number, nowMs = Date.now()): string {
  const s = Math.round((nowMs - us / 1000) / 1000);
  if (s < 0) return 'in the future';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
