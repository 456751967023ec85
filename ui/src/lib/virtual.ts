// Which rows of a fixed-row-height list to render for a scroll position.

export interface ViewWindow {
  first: number; // first row rendered
  last: number; // one past the last row rendered
}

// The rows in view plus `overscan` either side, clamped to the list.
export function viewWindow(scrollTop: number, viewHeight: number, rowCount: number,
  rowHeight: number, overscan: number): ViewWindow {
  const first = Math.min(rowCount, Math.max(0, Math.floor(scrollTop / rowHeight) - overscan));
  const last = Math.min(rowCount, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}
