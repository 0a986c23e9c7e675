// BlazeFace (MediaPipe short range) in the browser, on onnxruntime-web, with the same ONNX file
// the server uses (models/face_detection_front_128x128_barracuda.onnx, served at /models/).
// Input: one 128x128 RGB image, NHWC, values in [-1, 1], the frame letterboxed into it.
// Output: 896 anchors (16x16x2 of stride 8, then 8x8x6 of stride 16), a score logit and 16
// regressors each (box centre offset and size, 6 keypoints) in input pixels.

import * as ort from "onnxruntime-web/wasm";

export interface Face {
  /** Box in video pixels (un-mirrored). */
  left: number;
  top: number;
  width: number;
  height: number;
  score: number;
}

const SIDE = 128;

function anchors(): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [cells, perCell] of [
    [16, 2],
    [8, 6],
  ]) {
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let k = 0; k < perCell; k++) out.push([(x + 0.5) / cells, (y + 0.5) / cells]);
      }
    }
  }
  return out;
}

export class FaceDetector {
  private readonly anchors = anchors();
  private readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;

  private constructor(private readonly session: ort.InferenceSession) {
    this.canvas = document.createElement("canvas");
    this.canvas.width = SIDE;
    this.canvas.height = SIDE;
    const context = this.canvas.getContext("2d", { willReadFrequently: true });
    if (!context) throw new Error("no 2D canvas");
    this.context = context;
  }

  static async load(modelUrl: string, wasmPath: string): Promise<FaceDetector> {
    ort.env.wasm.wasmPaths = wasmPath;
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(modelUrl, { executionProviders: ["wasm"] });
    return new FaceDetector(session);
  }

  /** The faces in the current video frame over `minScore`, best first. */
  async detect(video: HTMLVideoElement, minScore = 0.5): Promise<Face[]> {
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh) return [];
    const scale = Math.min(SIDE / vw, SIDE / vh);
    const dw = vw * scale;
    const dh = vh * scale;
    const dx = (SIDE - dw) / 2;
    const dy = (SIDE - dh) / 2;
    this.context.fillStyle = "black";
    this.context.fillRect(0, 0, SIDE, SIDE);
    this.context.drawImage(video, dx, dy, dw, dh);
    const pixels = this.context.getImageData(0, 0, SIDE, SIDE).data;
    const input = new Float32Array(SIDE * SIDE * 3);
    for (let i = 0, j = 0; i < pixels.length; i += 4, j += 3) {
      input[j] = pixels[i] / 127.5 - 1;
      input[j + 1] = pixels[i + 1] / 127.5 - 1;
      input[j + 2] = pixels[i + 2] / 127.5 - 1;
    }
    const feeds: Record<string, ort.Tensor> = {
      [this.session.inputNames[0]]: new ort.Tensor("float32", input, [1, SIDE, SIDE, 3]),
    };
    const results = await this.session.run(feeds);
    // Scores: the outputs of 512 and 384 values; regressors: 512*16 and 384*16, in that order.
    const bySize = new Map<number, Float32Array>();
    for (const name of this.session.outputNames) {
      const data = results[name].data as Float32Array;
      bySize.set(data.length, data);
    }
    const scores8 = bySize.get(512);
    const scores16 = bySize.get(384);
    const regs8 = bySize.get(512 * 16);
    const regs16 = bySize.get(384 * 16);
    if (!scores8 || !scores16 || !regs8 || !regs16) throw new Error("unexpected BlazeFace outputs");
    const faces: Face[] = [];
    for (let index = 0; index < this.anchors.length; index++) {
      const [scores, regs, i] = index < 512 ? [scores8, regs8, index] : [scores16, regs16, index - 512];
      const logit = Math.max(-100, Math.min(100, scores[i]));
      const score = 1 / (1 + Math.exp(-logit));
      if (score < minScore) continue;
      const r = regs.subarray(i * 16, i * 16 + 16);
      const [ax, ay] = this.anchors[index];
      const cx = ax + r[0] / SIDE;
      const cy = ay + r[1] / SIDE;
      const w = r[2] / SIDE;
      const h = r[3] / SIDE;
      if (!(w > 0 && h > 0)) continue;
      // Back from the letterboxed input to video pixels.
      const left = ((cx - w / 2) * SIDE - dx) / scale;
      const top = ((cy - h / 2) * SIDE - dy) / scale;
      faces.push({ left, top, width: (w * SIDE) / scale, height: (h * SIDE) / scale, score });
    }
    faces.sort((a, b) => b.score - a.score);
    // Non-maximum suppression: keep a face only if it overlaps no better one.
    const kept: Face[] = [];
    for (const face of faces) if (kept.every((k) => iou(k, face) < 0.3)) kept.push(face);
    return kept;
  }
}

export function iou(a: { left: number; top: number; width: number; height: number }, b: typeof a): number {
  const x1 = Math.max(a.left, b.left);
  const y1 = Math.max(a.top, b.top);
  const x2 = Math.min(a.left + a.width, b.left + b.width);
  const y2 = Math.min(a.top + a.height, b.top + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}
