import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The app serves frontend/dist; `npm run dev` proxies the API to a running `stepwise run`.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 2000 },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/hooks": "http://127.0.0.1:8000",
      "/track": "http://127.0.0.1:8000",
    },
  },
});
