import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";
import { defineConfig } from "vitest/config";

// Built into dist/, which src-tauri embeds (tauri.conf.json `build.frontendDist`). Every
// asset is bundled: the app fetches nothing at run time, and the CSP allows only 'self'.
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "safari16",
    // No inline assets: the CSP has no data: sources.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    port: 1420,
    strictPort: true,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
  },
});
