// Geometry of the search page's scatter plot.

// The index of the point nearest to (x, y) within `radius` pixels, else -1.
export function nearestPoint(points: [number, number][], x: number, y: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  points.forEach(([px, py], i) => {
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d <= bestD) {
      best = i;
      bestD = d;
    }
  });
  return best;
}
