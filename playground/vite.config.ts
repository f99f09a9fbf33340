import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = import.meta.dirname;
// During `npm run dev`, proxy the API to a locally running roomcast.
const backend = process.env.ROOMCAST_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      // GraphiQL's deps carry React-compiler directives; bundling drops them harmlessly.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      input: {
        index: resolve(here, 'index.html'),
        graphiql: resolve(here, 'graphiql.html'),
      },
    },
  },
  worker: { format: 'es' },
  server: {
    // GraphiQL imports ../schema.graphql (the committed schema) as a fallback.
    fs: { allow: [resolve(here, '..')] },
    proxy: {
      '/graphql': { target: backend, ws: true, changeOrigin: true },
    },
  },
});
