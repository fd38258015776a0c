import react from '@vitejs/plugin-react';
import { defineConfig, type PluginOption } from 'vite';

// The build is plain static files (dist/): the control plane serves them at /, any static host can too.
export default defineConfig({
  // The plugin's types come from the root's vite (vitest's); at run time it works with this one.
  plugins: [react() as unknown as PluginOption],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: {
    // `npm run dev -w dashboard`: the API from a local control plane, cookies included.
    proxy: { '/v1': 'http://127.0.0.1:8080', '/config.json': 'http://127.0.0.1:8080' },
  },
});
