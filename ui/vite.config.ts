// Vite builds the single-page app into dist/, which `ariadne serve --ui-dir`
// serves. `npm run dev` proxies the API to a running server (default
// 127.0.0.1:16686; ARIADNE_QUERY_URL overrides it).
import { defineConfig } from 'vitest/config';

const api = process.env.ARIADNE_QUERY_URL ?? 'http://127.0.0.1:16686';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 600 },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: true },
      '/metrics': { target: api, changeOrigin: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // These are correctness tests, not timings: the 50,000-span cases make
    // ~10^5 assertions, which on a busy shared machine can take longer than
    // Vitest's 5 s default. The bound only stops a hung test.
    testTimeout: 300_000,
  },
});
