import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is static files built once by `npm run build` and served by the hub; nothing is fetched at run time.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
});
