// Builds the example into dist/: the bundled page, the tfjs-backend-wasm 4.11.0 binaries
// (config.binaryPath) and the converted BlazeFace (config.faceModelUrl, from $BLAZEFACE_TFJS_DIR,
// made by convert_blazeface.py; scripts/setup-amplify.sh passes it).
import { build } from "esbuild";
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const model = process.env.BLAZEFACE_TFJS_DIR;
if (!model || !existsSync(join(model, "model.json"))) {
  console.error("BLAZEFACE_TFJS_DIR must name the converted model's directory: run scripts/setup-amplify.sh");
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "tfjs-wasm"), { recursive: true });
await build({
  entryPoints: [join(here, "src", "app.tsx")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  outfile: join(dist, "app.js"),
  define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
  loader: { ".wasm": "file" },
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(dist, "index.html"));
const wasm = join(here, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
for (const file of ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"]) {
  copyFileSync(join(wasm, file), join(dist, "tfjs-wasm", file));
}
cpSync(model, join(dist, "blazeface"), { recursive: true });
console.log(`built ${dist}`);
