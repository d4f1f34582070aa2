import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The console is built into dist/console of the package (scripts/build.mjs runs this on `npm run build`), and served by
// src/server/console-assets.ts. `npx vite console` serves it with hot reload, proxying /api to a running `finmesh serve`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': process.env.FINMESH_URL ?? 'http://127.0.0.1:8080' } },
});
