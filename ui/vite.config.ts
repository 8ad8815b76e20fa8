import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

// The UI Tauri embeds (ui/dist). Relative base so the custom protocol serves it from any path;
// no source maps in the shipped build.
export default defineConfig(({ mode }) => ({
  base: './',
  plugins: [svelte()],
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: { port: 5173, strictPort: true },
  // Component tests mount Svelte 5 in jsdom: resolve Svelte's browser build, not the server one.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    restoreMocks: true,
    // The first test of a file that mounts the whole app transforms every component: slow on 2 cores.
    testTimeout: 20_000,
  },
}));
