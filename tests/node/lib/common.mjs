// Shared helpers of the streaming test clients (start-session.mjs, amplify-websocket.mjs,
// capture-envelopes.mjs): flag parsing (and the flags of a session), the WebM duration, the simulated liveness session
// (which events a FaceLivenessDetector sends, in which order, with which values) and the JSON
// report. No network, no SDK here.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";

export const DEFAULT_CHALLENGE_VERSIONS = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";
export const LIGHT = "FaceMovementAndLightChallenge";
export const MOVEMENT = "FaceMovementChallenge";

/** Parses `--flag value` / `--flag=value` / `--switch`; unknown flags are an error (exit 2). */
export function parseFlags(options, usage, argv = process.argv.slice(2)) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { help: { type: "boolean" }, ...options }, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`${err.message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  return values;
}

export function usageError(message, usage) {
  process.stderr.write(`error: ${message}\n\n${usage}`);
  process.exit(2);
}

export function intFlag(values, name, fallback, usage) {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) usageError(`--${name} needs an integer, got '${raw}'`, usage);
  return Number(raw);
}

// ------------------------------------------------------------------------------------------
// The flags both session clients (start-session.mjs, amplify-websocket.mjs) take

export const SESSION_FLAGS = {
  endpoint: { type: "string" },
  region: { type: "string", default: "us-east-1" },
  "access-key-id": { type: "string" },
  "secret-access-key": { type: "string" },
  "session-token": { type: "string" },
  "session-id": { type: "string" },
  video: { type: "string" },
  "chunk-bytes": { type: "string" },
  "duration-ms": { type: "string" },
  ca: { type: "string" },
  "challenge-versions": { type: "string", default: DEFAULT_CHALLENGE_VERSIONS },
  "video-width": { type: "string", default: "640" },
  "video-height": { type: "string", default: "480" },
  "time-scale": { type: "string", default: "0" },
  "timeout-ms": { type: "string" },
};

/** Checks SESSION_FLAGS: the required ones given, the endpoint a URL, the time scale >= 0. */
export function checkSessionFlags(flags, usage) {
  for (const name of ["endpoint", "session-id", "video", "access-key-id", "secret-access-key"]) {
    if (!flags[name]) usageError(`--${name} is required`, usage);
  }
  const timeoutMs = intFlag(flags, "timeout-ms", 20000, usage);
  const timeScale = Number(flags["time-scale"]);
  if (!Number.isFinite(timeScale) || timeScale < 0) usageError("--time-scale needs a number >= 0", usage);
  let endpoint;
  try {
    endpoint = new URL(flags.endpoint);
  } catch {
    usageError(`--endpoint is not a URL: ${flags.endpoint}`, usage);
  }
  return { endpoint, timeoutMs, timeScale };
}

/** The certificate to trust (--ca) and the session's script, as the flags say; `now` is the client's clock. */
export function sessionInputs(flags, usage, timeScale, now = undefined) {
  const ca = flags.ca ? readFileSync(flags.ca) : undefined;
  const script = new LivenessScript({
    video: readFileSync(flags.video),
    chunkBytes: intFlag(flags, "chunk-bytes", 0, usage) || undefined,
    durationMs: intFlag(flags, "duration-ms", 0, usage) || undefined,
    videoWidth: intFlag(flags, "video-width", 640, usage),
    videoHeight: intFlag(flags, "video-height", 480, usage),
    challengeVersions: flags["challenge-versions"],
    timeScale,
    now,
  });
  return { ca, script };
}

/** The SDK's credentials from --access-key-id, --secret-access-key and --session-token. */
export function credentialsOf(flags) {
  return {
    accessKeyId: flags["access-key-id"],
    secretAccessKey: flags["secret-access-key"],
    ...(flags["session-token"] ? { sessionToken: flags["session-token"] } : {}),
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// ------------------------------------------------------------------------------------------
// WebM (Matroska/EBML) duration: Segment > Info > Duration (float, in TimecodeScale units,
// default 1 ms). MediaRecorder output has no Duration; FFmpeg's has.

function readVint(buf, pos, keepMarker) {
  if (pos >= buf.length) return null;
  const first = buf[pos];
  let len = 1;
  while (len <= 8 && !(first & (0x80 >> (len - 1)))) len++;
  if (len > 8 || pos + len > buf.length) return null;
  let value = keepMarker ? first : first & (0xff >> len);
  let allOnes = value === (0xff >> len);
  for (let i = 1; i < len; i++) {
    value = value * 256 + buf[pos + i];
    if (buf[pos + i] !== 0xff) allOnes = false;
  }
  return { value, len, unknown: !keepMarker && allOnes };
}

export function webmDurationMs(buf) {
  const SEGMENT = 0x18538067, INFO = 0x1549a966, TIMECODE_SCALE = 0x2ad7b1, DURATION = 0x4489;
  const walk = (start, end, visit) => {
    let pos = start;
    while (pos < end) {
      const id = readVint(buf, pos, true);
      if (!id) return;
      const size = readVint(buf, pos + id.len, false);
      if (!size) return;
      const body = pos + id.len + size.len;
      const bodyEnd = size.unknown ? end : Math.min(end, body + size.value);
      if (visit(id.value, body, bodyEnd) === false) return;
      pos = bodyEnd;
    }
  };
  let scale = 1_000_000;
  let duration = null;
  walk(0, buf.length, (id, body, end) => {
    if (id !== SEGMENT) return true;
    walk(body, end, (id2, body2, end2) => {
      if (id2 !== INFO) return id2 !== 0x1f43b675; // stop at the first Cluster
      walk(body2, end2, (id3, body3, end3) => {
        const n = end3 - body3;
        if (id3 === TIMECODE_SCALE && n >= 1 && n <= 6) scale = buf.readUIntBE(body3, n);
        if (id3 === DURATION && n === 4) duration = buf.readFloatBE(body3);
        if (id3 === DURATION && n === 8) duration = buf.readDoubleBE(body3);
        return true;
      });
      return false;
    });
    return false;
  });
  if (duration === null || !Number.isFinite(duration) || duration <= 0) return null;
  return Math.round((duration * scale) / 1e6);
}

/**
 * Splits the video into the chunks a MediaRecorder with a 1 s timeslice would deliver: about
 * one second each (total bytes / duration in seconds), or fixed `chunkBytes`.
 */
export function splitVideo(buf, { chunkBytes, durationMs }) {
  let size = chunkBytes;
  let seconds = null;
  if (!size) {
    const ms = durationMs ?? webmDurationMs(buf) ?? Math.max(1000, Math.round((buf.length / 125_000) * 1000));
    seconds = Math.max(1, Math.round(ms / 1000));
    size = Math.max(1, Math.ceil(buf.length / seconds));
  }
  const chunks = [];
  for (let off = 0; off < buf.length; off += size) chunks.push(buf.subarray(off, Math.min(buf.length, off + size)));
  const totalMs = durationMs ?? webmDurationMs(buf) ?? chunks.length * 1000;
  return { chunks, chunkBytes: size, durationMs: totalMs };
}

// ------------------------------------------------------------------------------------------
// The liveness session as FaceLivenessDetector plays it (PROTOCOL 4.5).

/** The ColorDisplayed events of a light challenge, as ColorSequenceDisplay emits them. */
export function colorSchedule(colorSequences) {
  const seqs = colorSequences ?? [];
  const rgb = (i) => [...(seqs[i]?.FreshnessColor?.RGB ?? [0, 0, 0])];
  const out = [];
  if (seqs.length === 0) return out;
  let t = 0;
  let idx = 0;
  let flat = true; // the first sequence starts in its flat stage
  out.push({ SequenceNumber: 0, CurrentColor: rgb(0), PreviousColor: rgb(0), offsetMs: 0 });
  for (;;) {
    const s = seqs[idx];
    if (flat) {
      t += Number(s.FlatDisplayDuration ?? 0);
      idx += 1;
      if (idx >= seqs.length) break;
      flat = false;
      out.push({ SequenceNumber: idx, CurrentColor: rgb(idx), PreviousColor: rgb(idx - 1), offsetMs: t });
    } else {
      t += Number(s.DownscrollDuration ?? 0);
      if (Number(s.FlatDisplayDuration ?? 0) > 0) {
        flat = true;
        out.push({ SequenceNumber: idx, CurrentColor: rgb(idx), PreviousColor: rgb(idx), offsetMs: t });
      } else {
        idx += 1;
        if (idx >= seqs.length) break;
        out.push({ SequenceNumber: idx, CurrentColor: rgb(idx), PreviousColor: rgb(idx - 1), offsetMs: t });
      }
    }
  }
  out.totalMs = t;
  return out;
}

/** The oval as the client reports it in TargetFace: ratios of the video frame (not mirrored). */
export function ovalBoundingBox(oval, videoWidth, videoHeight) {
  const { Width, Height, CenterX, CenterY } = oval;
  return {
    Width: Width / videoWidth,
    Height: Height / videoHeight,
    Left: (CenterX - Width / 2) / videoWidth,
    Top: (CenterY - Height / 2) / videoHeight,
  };
}

/** The first face BlazeFace "found": centred, well inside the frame (ratios). */
export const INITIAL_FACE_BOX = { Width: 0.3, Height: 0.4, Left: 0.35, Top: 0.3 };

/** Which challenge the server chose: the member present in SessionInformation.Challenge. */
export function serverChallenge(sessionInfoEvent) {
  const challenge = sessionInfoEvent?.SessionInformation?.Challenge ?? {};
  if (challenge[LIGHT]) return { type: LIGHT, params: challenge[LIGHT] };
  if (challenge[MOVEMENT]) return { type: MOVEMENT, params: challenge[MOVEMENT] };
  const other = Object.keys(challenge).find((k) => k !== "$unknown");
  return other ? { type: other, params: challenge[other] } : null;
}

export function firstChallengeType(challengeVersions) {
  const first = String(challengeVersions).split(",")[0] ?? "";
  return first.replace(/_\d+\.\d+\.\d+$/, "") || LIGHT;
}

/**
 * One simulated FaceLivenessDetector session. Timestamps are clock readings taken when an
 * event is produced (as Amplify does); `timeScale` 1 waits between events as a real session
 * would (1 s per video chunk, the colors' real durations), 0 sends everything at once.
 */
export class LivenessScript {
  constructor({ video, chunkBytes, durationMs, videoWidth, videoHeight, challengeVersions, timeScale = 0, now = () => Date.now() }) {
    const split = splitVideo(video, { chunkBytes, durationMs });
    this.chunks = split.chunks;
    this.chunkBytes = split.chunkBytes;
    this.durationMs = split.durationMs;
    this.videoWidth = videoWidth;
    this.videoHeight = videoHeight;
    this.timeScale = timeScale;
    this.now = now;
    this.challengeId = randomUUID();
    this.challengeType = firstChallengeType(challengeVersions);
    this.t0 = null;
    this.initialFace = null;
  }

  /** ClientSessionInformationEvent #1: InitialFace + VideoStartTimestamp (recording started). */
  initialEvent(challengeType = this.challengeType) {
    this.challengeType = challengeType;
    this.t0 = this.now();
    this.initialFace = { BoundingBox: { ...INITIAL_FACE_BOX }, InitialFaceDetectedTimestamp: this.t0 };
    return {
      kind: "InitialFace",
      event: {
        ClientSessionInformationEvent: {
          Challenge: {
            [this.challengeType]: {
              ChallengeId: this.challengeId,
              VideoStartTimestamp: this.t0,
              InitialFace: this.initialFace,
            },
          },
        },
      },
    };
  }

  /**
   * Everything after event #1, once the server's challenge is known: the video chunks
   * interleaved in time with the ColorDisplayed events, the final ClientSessionInformationEvent
   * (TargetFace, VideoEndTimestamp) and the empty VideoEvent. An async generator of
   * `{kind, event}`; `onChunk(i)` is called after each video chunk has been handed out.
   */
  async *rest(challenge) {
    const type = challenge?.type ?? this.challengeType;
    this.challengeType = type;
    const params = challenge?.params ?? {};
    if (this.t0 === null) this.initialEvent(type);
    const D = Math.max(1, this.durationMs);
    const n = this.chunks.length;
    const steps = [];
    this.chunks.forEach((chunk, i) => steps.push({ at: Math.round(((i + 1) * D) / n), kind: "VideoChunk", chunk }));
    // The face reaches the oval early; for the light challenge the colors follow, squeezed into
    // the video when their real durations do not fit.
    const faceStart = Math.round(D * 0.35);
    let faceEnd = Math.round(D * 0.9);
    if (type === LIGHT) {
      const colors = colorSchedule(params.ColorSequences);
      const total = colors.totalMs || 1;
      const scale = Math.min(1, (D * 0.6) / total);
      for (const c of colors) steps.push({ at: faceStart + Math.round(c.offsetMs * scale), kind: "ColorDisplayed", color: c });
      faceEnd = Math.min(D, faceStart + Math.round(total * scale));
    }
    steps.sort((a, b) => a.at - b.at); // stable: a chunk before a color due at the same time
    const wait = async (at) => {
      if (this.timeScale > 0) await sleep(this.t0 + at * this.timeScale - this.now());
    };

    let targetStart = null;
    let targetEnd = null;
    for (const step of steps) {
      await wait(step.at);
      if (targetStart === null && step.at >= faceStart) targetStart = this.now();
      if (step.kind === "VideoChunk") {
        yield { kind: "VideoChunk", bytes: step.chunk.length, event: { VideoEvent: { VideoChunk: new Uint8Array(step.chunk), TimestampMillis: this.now() } } };
      } else {
        const c = step.color;
        yield {
          kind: `ColorDisplayed#${c.SequenceNumber}`,
          event: {
            ClientSessionInformationEvent: {
              Challenge: {
                [type]: {
                  ChallengeId: this.challengeId,
                  ColorDisplayed: {
                    CurrentColor: { RGB: c.CurrentColor },
                    PreviousColor: { RGB: c.PreviousColor },
                    SequenceNumber: c.SequenceNumber,
                    CurrentColorStartTimestamp: this.now(),
                  },
                },
              },
            },
          },
        };
      }
      if (targetEnd === null && step.at >= faceEnd) targetEnd = this.now();
    }
    await wait(D);
    const end = this.now();
    targetStart ??= this.t0;
    targetEnd ??= end;
    const oval = params.OvalParameters ?? { Width: this.videoWidth * 0.45, Height: this.videoHeight * 0.97, CenterX: this.videoWidth / 2, CenterY: this.videoHeight / 2 };
    yield {
      kind: "TargetFace",
      event: {
        ClientSessionInformationEvent: {
          Challenge: {
            [type]: {
              ChallengeId: this.challengeId,
              InitialFace: this.initialFace,
              TargetFace: {
                BoundingBox: ovalBoundingBox(oval, this.videoWidth, this.videoHeight),
                FaceDetectedInTargetPositionStartTimestamp: targetStart,
                FaceDetectedInTargetPositionEndTimestamp: Math.max(targetStart, targetEnd),
              },
              VideoEndTimestamp: end,
            },
          },
        },
      },
    };
    yield { kind: "EmptyVideoChunk", bytes: 0, event: { VideoEvent: { VideoChunk: new Uint8Array(0), TimestampMillis: this.now() } } };
  }
}

// ------------------------------------------------------------------------------------------
// Reporting

/** The union member of an SDK event object: `{Name: body}` or `{$unknown: [name, body]}`. */
export function eventOf(item) {
  for (const [key, value] of Object.entries(item ?? {})) {
    if (value === undefined) continue;
    if (key === "$unknown" && Array.isArray(value)) return { type: String(value[0]), body: value[1] };
    return { type: key, body: value };
  }
  return { type: "(empty)", body: null };
}

/** A JSON-able view of any thrown value, with the SDK's `$metadata`/`$fault` when present. */
export function describeError(err) {
  if (err === null || err === undefined) return { name: "Error", message: String(err) };
  if (typeof err !== "object") return { name: "Error", message: String(err) };
  const out = {
    name: err.name ?? err.constructor?.name ?? "Error",
    message: err.message ?? (err.type ? `${err.type} event` : String(err)),
  };
  if (err.code !== undefined) out.code = err.code;
  if (err.Code !== undefined) out.Code = err.Code;
  if (err.$fault !== undefined) out.$fault = err.$fault;
  out.$metadata = err.$metadata ?? {};
  if (err.cause) out.cause = describeError(err.cause);
  return out;
}

/** Writes the one JSON report line and exits once stdout is flushed. */
export function finish(report, code) {
  const text = `${JSON.stringify(report, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : typeof v === "bigint" ? v.toString() : v))}\n`;
  process.stdout.write(text, () => process.exit(code));
}
