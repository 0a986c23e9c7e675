// The openliveness demo page: camera, face guidance, the oval, the colour sequence, the stream,
// the result. Each step is announced in #status (aria-live) and marked on <body data-step>, which
// the end-to-end test follows.

import { FaceDetector, iou, type Face } from "./face";
import { LivenessStream, type ClientCredentials, type ServerEvent } from "./stream";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $("status");
const video = $<HTMLVideoElement>("video");
const overlay = $<HTMLCanvasElement>("overlay");
const flash = $("flash");
const flashNext = $("flash-next");

function step(name: string, message: string): void {
  document.body.dataset.step = name;
  document.body.dataset.steps = `${document.body.dataset.steps ?? ""} ${name}`.trim();
  statusEl.textContent = message;
}

function show(id: string): void {
  for (const section of document.querySelectorAll<HTMLElement>("main > section")) {
    section.hidden = section.id !== id;
  }
  const heading = $(id).querySelector<HTMLElement>("h2, [autofocus], button");
  heading?.focus();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));
/** The wall-clock time of a requestAnimationFrame timestamp. */
const wallClock = (frameTime: number) => Math.round(performance.timeOrigin + frameTime);

interface DemoSession {
  SessionId: string;
  Region: string;
  Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
}

interface Rgb {
  RGB: [number, number, number];
}
interface ColorSequence {
  FreshnessColor: Rgb;
  DownscrollDuration: number;
  FlatDisplayDuration: number;
}
interface Challenge {
  type: "FaceMovementAndLightChallenge" | "FaceMovementChallenge";
  oval: { Width: number; Height: number; CenterX: number; CenterY: number };
  config: Record<string, number>;
  colors: ColorSequence[];
}

function parseChallenge(body: any): Challenge {
  const challenge = body?.SessionInformation?.Challenge ?? {};
  const type = challenge.FaceMovementAndLightChallenge ? "FaceMovementAndLightChallenge" : "FaceMovementChallenge";
  const c = challenge[type];
  if (!c?.OvalParameters) throw new Error("the server sent no challenge");
  return { type, oval: c.OvalParameters, config: c.ChallengeConfig ?? {}, colors: c.ColorSequences ?? [] };
}

const ratioBox = (b: { left: number; top: number; width: number; height: number }, w: number, h: number) => ({
  Width: b.width / w,
  Height: b.height / h,
  Left: b.left / w,
  Top: b.top / h,
});

/** Draws the mirrored oval and, if found, the face box on the overlay. */
function drawGuide(challenge: Challenge | null, face: Face | null, inOval: boolean): void {
  const w = video.videoWidth;
  const h = video.videoHeight;
  overlay.width = w;
  overlay.height = h;
  const ctx = overlay.getContext("2d");
  if (!ctx) return;
  ctx.clearRect(0, 0, w, h);
  ctx.save();
  ctx.translate(w, 0);
  ctx.scale(-1, 1); // the preview is mirrored; everything sent is in un-mirrored video pixels
  if (challenge) {
    const o = challenge.oval;
    ctx.fillStyle = "rgba(0, 0, 0, 0.55)";
    ctx.beginPath();
    ctx.rect(0, 0, w, h);
    ctx.ellipse(o.CenterX, o.CenterY, o.Width / 2, o.Height / 2, 0, 0, Math.PI * 2);
    ctx.fill("evenodd");
    ctx.lineWidth = 6;
    ctx.strokeStyle = inOval ? "#2e7d32" : "#ffffff";
    ctx.beginPath();
    ctx.ellipse(o.CenterX, o.CenterY, o.Width / 2, o.Height / 2, 0, 0, Math.PI * 2);
    ctx.stroke();
  }
  if (face) {
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#ffd54f";
    ctx.strokeRect(face.left, face.top, face.width, face.height);
  }
  ctx.restore();
}

function guidance(face: Face | null, faces: number, challenge: Challenge | null): { message: string; inOval: boolean } {
  if (!face) return { message: "Face not found: look at the camera, in good light.", inOval: false };
  if (faces > 1) return { message: "More than one face: only one person, please.", inOval: false };
  if (!challenge) return { message: "Face found. Hold still.", inOval: false };
  const o = challenge.oval;
  const ovalBox = { left: o.CenterX - o.Width / 2, top: o.CenterY - o.Height / 2, width: o.Width, height: o.Height };
  const overlap = iou(face, ovalBox);
  const threshold = challenge.config.OvalIouThreshold ?? 0.5;
  if (overlap >= threshold) return { message: "Hold still.", inOval: true };
  if (face.width < o.Width * 0.6) return { message: "Move closer.", inOval: false };
  if (face.width > o.Width * 1.1) return { message: "Move back a little.", inOval: false };
  return { message: "Move your face into the oval.", inOval: false };
}

/**
 * Flashes the colour sequence full screen as Amplify does (flat stages, then each colour scrolls
 * down over the previous one), and reports each colour when it was first on screen: the time of
 * the animation frame that drew it.
 */
async function flashColors(colors: ColorSequence[], report: (event: object) => void): Promise<void> {
  const css = (c: Rgb) => `rgb(${c.RGB.join(",")})`;
  flash.hidden = false;
  let index = 0;
  let previous = colors[0]?.FreshnessColor;
  while (index < colors.length) {
    const sequence = colors[index];
    const current = sequence.FreshnessColor;
    const scrolling = index > 0 && sequence.DownscrollDuration > 0;
    // The stage's first frame: draw it, then stamp it with that frame's time.
    if (scrolling) {
      flash.style.background = css(previous);
      flashNext.style.background = css(current);
      flashNext.style.height = "0%";
    } else {
      flash.style.background = css(current);
      flashNext.style.height = "0%";
    }
    const shownAt = await nextFrame();
    report({
      CurrentColor: current,
      PreviousColor: scrolling ? previous : current,
      SequenceNumber: index,
      CurrentColorStartTimestamp: wallClock(shownAt),
    });
    if (scrolling) {
      for (;;) {
        const t = await nextFrame();
        const done = (t - shownAt) / sequence.DownscrollDuration;
        flashNext.style.height = `${Math.min(1, done) * 100}%`;
        if (done >= 1) break;
      }
      if (sequence.FlatDisplayDuration > 0) {
        flash.style.background = css(current);
        flashNext.style.height = "0%";
        const flatAt = await nextFrame();
        report({
          CurrentColor: current,
          PreviousColor: current,
          SequenceNumber: index,
          CurrentColorStartTimestamp: wallClock(flatAt),
        });
        while ((await nextFrame()) - flatAt < sequence.FlatDisplayDuration);
      }
    } else {
      while ((await nextFrame()) - shownAt < sequence.FlatDisplayDuration);
    }
    previous = current;
    index += 1;
  }
  flash.hidden = true;
}

function showResult(result: any): void {
  const status: string = result?.Status ?? "UNKNOWN";
  $("result-status").textContent = status;
  $("result-confidence").textContent =
    typeof result?.Confidence === "number" ? `${result.Confidence.toFixed(1)} %` : "none";
  $("result-explanation").textContent =
    status === "SUCCEEDED"
      ? "The session was analysed. The confidence says how sure the service is that a live person was in front of the camera."
      : status === "FAILED"
        ? "The session could not be analysed (see the server's log for the reason)."
        : `The session ended with status ${status}.`;
  const images = $("result-images");
  images.replaceChildren();
  const addImage = (image: any, label: string) => {
    const bytes: string | undefined = image?.Bytes;
    if (!bytes) return;
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", label);
    const caption = document.createElement("figcaption");
    caption.textContent = label;
    figure.append(canvas, caption);
    images.append(figure);
    const img = new Image();
    img.onload = () => {
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext("2d");
      if (!ctx) return;
      ctx.drawImage(img, 0, 0);
      const box = image.BoundingBox;
      if (box) {
        ctx.lineWidth = Math.max(2, img.naturalWidth / 160);
        ctx.strokeStyle = "#ffd54f";
        ctx.strokeRect(box.Left * img.naturalWidth, box.Top * img.naturalHeight, box.Width * img.naturalWidth, box.Height * img.naturalHeight);
      }
    };
    img.src = `data:image/jpeg;base64,${bytes}`;
  };
  addImage(result?.ReferenceImage, "Reference image, with the face's box");
  (result?.AuditImages ?? []).forEach((image: any, i: number) => addImage(image, `Audit image ${i + 1}`));
  $("result-json").textContent = JSON.stringify(
    result,
    (key, value) => (key === "Bytes" && typeof value === "string" ? `<${value.length} base64 characters>` : value),
    2,
  );
  show("result");
}

async function run(): Promise<void> {
  show("check");
  step("camera", "Asking for the camera…");
  const media = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { width: { min: 320, ideal: 640 }, height: { min: 240, ideal: 480 }, frameRate: { min: 15, ideal: 30 }, facingMode: "user" },
  });
  video.srcObject = media;
  await video.play();
  // Cameras (and busy machines) drop frames while they start: let it run 2 s before recording.
  step("warmup", "Starting the camera…");
  while (video.currentTime < 2) await nextFrame();
  step("model", "Loading the face detector…");
  const detector = await FaceDetector.load("/models/face_detection_front_128x128_barracuda.onnx", "/ort/");

  step("session", "Creating a session…");
  const response = await fetch("/demo/session", { method: "POST" });
  if (response.status === 404) throw new Error("The demo routes are off: start the server with --demo.");
  if (!response.ok) throw new Error(`Creating a session failed: HTTP ${response.status} ${await response.text()}`);
  const session: DemoSession = await response.json();
  const credentials: ClientCredentials = {
    accessKeyId: session.Credentials.AccessKeyId,
    secretAccessKey: session.Credentials.SecretAccessKey,
    sessionToken: session.Credentials.SessionToken,
  };
  document.body.dataset.sessionId = session.SessionId;

  const width = video.videoWidth;
  const height = video.videoHeight;
  const stream = new LivenessStream(new URL(location.origin), session.Region, credentials);
  let challengeResolve!: (c: Challenge) => void;
  let failure: ((e: Error) => void) | null = null;
  const challengeReady = new Promise<Challenge>((resolve, reject) => {
    challengeResolve = resolve;
    failure = reject;
  });
  let disconnected = false;
  stream.onEvent = (event: ServerEvent) => {
    if (event.exception) failure?.(new Error(`${event.type}: ${event.body?.Message ?? ""}`));
    else if (event.type === "ServerSessionInformationEvent") challengeResolve(parseChallenge(event.body));
    else if (event.type === "DisconnectionEvent") disconnected = true;
  };
  step("connecting", "Connecting…");
  await stream.open(session.SessionId, width, height);
  const challenge = await Promise.race([
    challengeReady,
    stream.closed.then(() => {
      throw new Error(`The server closed the connection (${stream.closeCode}: ${stream.closeReason})`);
    }),
  ]);
  const challengeId = crypto.randomUUID();

  // Find the face (guidance), then record.
  step("face", "Looking for your face…");
  let face: Face | null = null;
  const findUntil = performance.now() + 10000;
  while (performance.now() < findUntil) {
    const faces = await detector.detect(video, challenge.config.BlazeFaceDetectionThreshold ?? 0.5);
    face = faces[0] ?? null;
    const { message } = guidance(face, faces.length, null);
    statusEl.textContent = message;
    drawGuide(null, face, false);
    if (face && faces.length === 1) break;
    await sleep(100);
  }
  if (!face) throw new Error("No face found in 10 seconds: look at the camera, in good light, and try again.");
  const initialFace = { BoundingBox: ratioBox(face, width, height), InitialFaceDetectedTimestamp: Date.now() };

  const recorder = new MediaRecorder(media, { bitsPerSecond: 1_000_000 });
  const chunks: Promise<void>[] = [];
  recorder.ondataavailable = (event) => {
    if (event.data.size > 0) {
      chunks.push(
        event.data.arrayBuffer().then((buffer) =>
          stream.send("VideoEvent", { VideoChunk: new Uint8Array(buffer), TimestampMillis: Date.now() }),
        ),
      );
    }
  };
  const startCalled = Date.now();
  const recordingStarted = new Promise<number>((resolve) => (recorder.onstart = () => resolve(Date.now())));
  const stopped = new Promise<number>((resolve) => (recorder.onstop = () => resolve(Date.now())));
  recorder.start(1000);
  const onStart = await recordingStarted;
  const videoStart = Math.round(0.73 * (onStart - startCalled) + startCalled);
  await stream.send("ClientSessionInformationEvent", {
    Challenge: { [challenge.type]: { ChallengeId: challengeId, VideoStartTimestamp: videoStart, InitialFace: initialFace } },
  });

  // The oval: guide the face into it, for at most OvalFitTimeout.
  step("oval", "Move your face into the oval.");
  const fitTimeout = challenge.config.OvalFitTimeout ?? 7000;
  const fitUntil = performance.now() + Math.min(fitTimeout, 10000);
  let matchStart: number | null = null;
  let matchEnd: number | null = null;
  while (performance.now() < fitUntil) {
    const faces = await detector.detect(video, challenge.config.BlazeFaceDetectionThreshold ?? 0.5);
    const current = faces[0] ?? null;
    const { message, inOval } = guidance(current, faces.length, challenge);
    statusEl.textContent = message;
    drawGuide(challenge, current, inOval);
    if (inOval) {
      matchStart ??= Date.now();
      matchEnd = Date.now();
      if (matchEnd - matchStart >= 300) break;
    } else {
      matchStart = null;
    }
    await sleep(100);
  }
  // A person who cannot fit the oval still gets the challenge: the server decides.
  const now = Date.now();
  matchStart ??= now;
  matchEnd ??= now;

  if (challenge.type === "FaceMovementAndLightChallenge" && challenge.colors.length > 0) {
    step("hold", "Hold still.");
    await sleep(1000);
    step("flash", "Hold still while the screen flashes colours.");
    await flashColors(challenge.colors, (colorDisplayed) => {
      void stream.send("ClientSessionInformationEvent", {
        Challenge: { FaceMovementAndLightChallenge: { ChallengeId: challengeId, ColorDisplayed: colorDisplayed } },
      });
    });
  }

  step("uploading", "Sending…");
  recorder.stop();
  const videoEnd = await stopped;
  await Promise.all(chunks);
  if (chunks.length === 0) throw new Error("The camera recorded nothing.");
  const o = challenge.oval;
  await stream.send("ClientSessionInformationEvent", {
    Challenge: {
      [challenge.type]: {
        ChallengeId: challengeId,
        InitialFace: initialFace,
        TargetFace: {
          BoundingBox: { Width: o.Width / width, Height: o.Height / height, Left: (o.CenterX - o.Width / 2) / width, Top: (o.CenterY - o.Height / 2) / height },
          FaceDetectedInTargetPositionStartTimestamp: matchStart,
          FaceDetectedInTargetPositionEndTimestamp: matchEnd,
        },
        VideoEndTimestamp: videoEnd,
      },
    },
  });
  await stream.send("VideoEvent", { VideoChunk: new Uint8Array(0), TimestampMillis: Date.now() });
  media.getTracks().forEach((track) => track.stop());

  step("analysing", "Checking…");
  await stream.closed;
  if (!disconnected) throw new Error(`The server ended the session without a result (${stream.closeCode}: ${stream.closeReason})`);
  const results = await fetch(`/demo/session/${session.SessionId}/results`);
  const result = await results.json();
  step("result", `Finished: ${result.Status}.`);
  showResult(result);
}

function fail(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  flash.hidden = true;
  $("error-message").textContent = message;
  step("error", `Something went wrong: ${message}`);
  show("error");
}

$("start").addEventListener("click", () => run().catch(fail));
for (const again of document.querySelectorAll<HTMLButtonElement>(".again")) {
  again.addEventListener("click", () => location.reload());
}
step("intro", "Ready.");
show("intro");
