// A small seeded random number generator (mulberry32) for the benchmark
// scripts: the same seed gives the same sequence of floats in [0, 1), so a
// run's synthetic data can be generated again. (The UI's test fixtures keep
// a TypeScript copy: the UI package does not import from bench/.)
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
