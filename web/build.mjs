// Builds the page into dist/: the bundled TypeScript, the HTML and CSS, onnxruntime-web's
// WebAssembly, and the BlazeFace model from models/ (scripts/setup-vision.sh installs it).
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const model = join(here, "..", "models", "face_detection_front_128x128_barracuda.onnx");
if (!existsSync(model)) {
  console.error(`missing ${model}: run scripts/setup-vision.sh`);
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "ort"), { recursive: true });
mkdirSync(join(dist, "models"), { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: join(dist, "app.js"),
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(dist, "index.html"));
copyFileSync(join(here, "style.css"), join(dist, "style.css"));
const ort = join(here, "node_modules", "onnxruntime-web", "dist");
for (const file of ["ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs"]) {
  copyFileSync(join(ort, file), join(dist, "ort", file));
}
copyFileSync(model, join(dist, "models", "face_detection_front_128x128_barracuda.onnx"));
console.log(`built ${dist}`);
