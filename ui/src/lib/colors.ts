// A stable colour per service name (the same service has the same colour on
// every page).

const kPalette = [
  '#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#9c755f', '#ff9da7',
  '#17becf', '#bcbd22', '#7f7f7f', '#1f77b4', '#8c564b', '#e377c2', '#2ca02c', '#d62728',
  '#9467bd', '#aec7e8', '#ffbb78', '#98df8a',
];

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function serviceColor(service: string): string {
  return kPalette[hashString(service) % kPalette.length];
}
