#!/usr/bin/env node
// A Face Liveness WebSocket client that does on the wire exactly what Amplify's
// FaceLivenessDetector (amplify-ui React, v3.6.x) does through the AWS SDK, built by hand from the
// SDK's own parts so that each step can be observed and broken on purpose:
//   - GET /start-face-liveness-session-websocket over wss://, query session-id, video-width,
//     video-height, challenge-versions, x-amz-user-agent, attempt-count=1,
//     precheck-view-enabled=1, presigned by @smithy/signature-v4 (the class Amplify's Signer
//     extends) with X-Amz-Expires=299 and only `host` signed, the host WITHOUT its port (what the
//     SDK's WebSocket middleware leaves in the request it presigns);
//   - every client event = an event-stream message wrapped in an envelope with :date and
//     :chunk-signature, signed in a chain seeded by X-Amz-Signature (as the SDK's
//     EventSigningTransformStream does), one envelope per binary WebSocket message;
//   - waits for ServerSessionInformationEvent, sends ClientSessionInformationEvent #1, the video
//     (about 1 s per chunk), the ColorDisplayed events, the final ClientSessionInformationEvent,
//     the empty VideoEvent; then waits for DisconnectionEvent and for the SERVER to close.
// Prints one JSON report on stdout. Run with --help for the flags (negative tests included).

import { WebSocket } from "ws";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@smithy/core/checksum";
import { EventStreamCodec } from "@smithy/core/event-streams";
import { HttpRequest, buildQueryString } from "@smithy/core/protocols";
import { fromHex, fromUtf8, toUtf8 } from "@smithy/core/serde";
import {
  SESSION_FLAGS, checkSessionFlags, credentialsOf, describeError, finish, intFlag, parseFlags, serverChallenge, sessionInputs,
  sleep,
} from "./lib/common.mjs";

const USAGE = `usage: node amplify-websocket.mjs --endpoint https://HOST:PORT --session-id UUID --video FILE.webm
         --access-key-id AKID --secret-access-key SECRET [options]

  --endpoint URL            https://HOST:PORT or wss://HOST:PORT (a base path is kept)
  --region R                default us-east-1
  --access-key-id ID, --secret-access-key KEY, --session-token TOKEN (optional)
  --session-id UUID, --video FILE, --chunk-bytes N, --duration-ms N,
  --video-width N, --video-height N (640 x 480), --challenge-versions S
                            as for start-session.mjs
  --ca FILE                 PEM certificate(s) to trust for wss://
  --time-scale X            0 (default): no waiting; 1: real time
  --timeout-ms N            give up after N ms (default 20000)
  --user-agent S            the x-amz-user-agent query value
Negative tests:
  --close-with CODE         close the socket with CODE (e.g. 4003, user cancel) right after the
                            first VideoEvent, as Amplify does on cancel/error, then wait for the close
  --tamper-signature N      corrupt the :chunk-signature of the N-th envelope (1-based); the chain
                            goes on from the correct signature
  --replay N                send the N-th envelope twice
  --expires-in S            X-Amz-Expires (default 299, Amplify's; the SDK's own handler uses 60)
  --clock-offset-ms N       shift the client clock (presign date, :date, timestamps) by N ms
                            (negative: --clock-offset-ms=-600000)
  --sign-host-with-port     sign host as HOST:PORT (default: HOST alone, as the SDK signs it)
  --end-frame               after the empty VideoEvent also send the final empty signed envelope
                            (the SDK sends it when its input ends; Amplify never does)

Output: one JSON line, as start-session.mjs plus "closeCode", "closeReason", "closedBy"
(server|client) and "url"; ok means DisconnectionEvent received and the server closed with
1000/1001 (with --close-with: the close handshake completed). Exit code 0 if ok, else 1.
`;

const flags = parseFlags(
  {
    ...SESSION_FLAGS,
    "user-agent": {
      type: "string",
      default: `aws-sdk-js/3.1112.0 ua/2.1 os/${process.platform} lang/js md/nodejs#${process.versions.node} api/rekognitionstreaming#3.1112.0 aws-amplify/6.16.2-framework/3-ui-react-liveness/3.6.0`,
    },
    "close-with": { type: "string" },
    "tamper-signature": { type: "string" },
    replay: { type: "string" },
    "expires-in": { type: "string" },
    "clock-offset-ms": { type: "string" },
    "sign-host-with-port": { type: "boolean", default: false },
    "end-frame": { type: "boolean", default: false },
  },
  USAGE,
);

const { endpoint, timeoutMs, timeScale } = checkSessionFlags(flags, USAGE);
const closeWith = intFlag(flags, "close-with", 0, USAGE);
const tamperAt = intFlag(flags, "tamper-signature", 0, USAGE);
const replayAt = intFlag(flags, "replay", 0, USAGE);
const expiresIn = intFlag(flags, "expires-in", 299, USAGE);
const clockOffsetMs = intFlag(flags, "clock-offset-ms", 0, USAGE);

const now = () => Date.now() + clockOffsetMs;
const { ca, script } = sessionInputs(flags, USAGE, timeScale, now);

const signer = new SignatureV4({ credentials: credentialsOf(flags), region: flags.region, service: "rekognition", sha256: Sha256 });
const codec = new EventStreamCodec(toUtf8, fromUtf8);

// ------------------------------------------------------------------------------------------
// The presigned URL

async function presignedUrl() {
  const basePath = endpoint.pathname.replace(/\/+$/, "");
  const port = endpoint.port ? Number(endpoint.port) : undefined;
  const request = new HttpRequest({
    protocol: "wss:",
    hostname: endpoint.hostname,
    port,
    method: "GET",
    path: `${basePath}/start-face-liveness-session-websocket`,
    query: {
      "session-id": flags["session-id"],
      "video-width": String(script.videoWidth),
      "video-height": String(script.videoHeight),
      "challenge-versions": flags["challenge-versions"],
      "x-amz-user-agent": flags["user-agent"],
      "attempt-count": "1",
      "precheck-view-enabled": "1",
    },
    // The SDK's websocket middleware reduces the headers to { host: request.hostname } before the
    // host-header middleware could add the port, so the port is not in the signed host.
    headers: { host: flags["sign-host-with-port"] && port ? `${endpoint.hostname}:${port}` : endpoint.hostname },
    body: "",
  });
  const signed = await signer.presign(request, {
    expiresIn,
    signingDate: new Date(now()),
    unsignableHeaders: new Set(Object.keys(request.headers).filter((h) => h !== "host")),
  });
  const authority = `${endpoint.hostname.includes(":") && !endpoint.hostname.startsWith("[") ? `[${endpoint.hostname}]` : endpoint.hostname}${port ? `:${port}` : ""}`;
  return { url: `wss://${authority}${signed.path}?${buildQueryString(signed.query)}`, seed: signed.query["X-Amz-Signature"] };
}

// ------------------------------------------------------------------------------------------
// Envelopes

const jsonBytes = (value) =>
  fromUtf8(JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)));

function innerMessage(event) {
  const [type, body] = Object.entries(event)[0];
  return codec.encode({
    headers: {
      ":event-type": { type: "string", value: type },
      ":message-type": { type: "string", value: "event" },
      ":content-type": { type: "string", value: "application/json" },
    },
    body: jsonBytes(body),
  });
}

let priorSignature = "";
let envelopeCount = 0;

/** Signs `payload` (an inner message, or empty for the end frame) into the next envelope. */
async function envelope(payload) {
  envelopeCount += 1;
  const date = new Date(now());
  const dateHeader = { ":date": { type: "timestamp", value: date } };
  const { signature } = await signer.sign({ message: { headers: dateHeader, body: payload }, priorSignature }, { signingDate: date });
  priorSignature = signature;
  const sig = fromHex(signature);
  if (envelopeCount === tamperAt) sig[sig.length - 1] ^= 0x01;
  return codec.encode({ headers: { ...dateHeader, ":chunk-signature": { type: "binary", value: sig } }, body: payload });
}

// ------------------------------------------------------------------------------------------
// The session

const events = [];
const sent = [];
let sentVideoBytes = 0;
let url = null;
let closeCode = null;
let closeReason = null;
let closedBy = null;
let serverError = null;
let socketError = null;
let handshake = null;

let resolveInfo;
const serverInfo = new Promise((resolve) => (resolveInfo = resolve));
let resolveClosed;
const closed = new Promise((resolve) => (resolveClosed = resolve));
let resolveDisconnect;
const disconnected = new Promise((resolve) => (resolveDisconnect = resolve));

function onServerMessage(data, isBinary) {
  if (!isBinary) {
    events.push({ type: "(text)", body: data.toString("utf8") });
    return;
  }
  let msg;
  try {
    msg = codec.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch (err) {
    events.push({ type: "(undecodable)", body: { message: String(err?.message ?? err), bytes: data.length } });
    return;
  }
  const h = (name) => msg.headers[name]?.value;
  const text = toUtf8(msg.body);
  let body = null;
  try {
    body = text.length ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  const messageType = h(":message-type");
  if (messageType === "event") {
    const type = h(":event-type");
    events.push({ type, body });
    if (type === "ServerSessionInformationEvent") resolveInfo(serverChallenge(body));
    if (type === "DisconnectionEvent") resolveDisconnect();
  } else if (messageType === "exception") {
    const type = h(":exception-type");
    events.push({ type, exception: true, body });
    serverError ??= { name: type, message: body?.Message ?? body?.message ?? "", Code: body?.Code, $metadata: {} };
    resolveInfo(null);
  } else {
    const code = h(":error-code");
    events.push({ type: "error", body: { code, message: h(":error-message"), payload: body } });
    serverError ??= { name: code ?? "Error", message: h(":error-message") ?? "", $metadata: {} };
    resolveInfo(null);
  }
}

const report = (ok, extra = {}) => ({
  ok,
  ...extra,
  transport: "amplify-websocket",
  events,
  sentVideoBytes,
  sentEvents: sent.map((s) => s.type),
  sentKinds: sent.map((s) => s.kind),
  sentEnvelopes: envelopeCount,
  challengeId: script.challengeId,
  challengeType: script.challengeType,
  videoChunks: script.chunks.length,
  chunkBytes: script.chunkBytes,
  closeCode,
  closeReason,
  closedBy,
  url,
});

const watchdog = setTimeout(() => {
  finish(report(false, { error: { name: "TimeoutError", message: `no result within ${timeoutMs} ms`, $metadata: {} } }), 1);
}, timeoutMs);

async function main() {
  const presigned = await presignedUrl();
  url = presigned.url;
  priorSignature = presigned.seed;

  const ws = new WebSocket(url, { ca, handshakeTimeout: Math.min(10000, timeoutMs), perMessageDeflate: false });
  ws.binaryType = "nodebuffer";
  let clientClosing = false;
  const opened = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.on("unexpected-response", (_req, res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const bodyText = Buffer.concat(chunks).toString("utf8");
        let body = bodyText;
        try {
          body = JSON.parse(bodyText);
        } catch {
          // not JSON
        }
        handshake = { statusCode: res.statusCode, headers: res.headers, body };
        const name = String(res.headers["x-amzn-errortype"] ?? body?.__type ?? "HandshakeRejected").split(":")[0];
        const err = new Error(body?.Message ?? body?.message ?? `the server answered the upgrade with HTTP ${res.statusCode}`);
        err.name = name;
        err.$metadata = { httpStatusCode: res.statusCode };
        reject(err);
        ws.terminate();
      });
    });
    ws.once("error", reject);
  });
  ws.on("message", onServerMessage);
  ws.on("error", (err) => {
    socketError ??= err;
  });
  ws.on("close", (code, reason) => {
    closeCode = code;
    closeReason = reason.toString("utf8");
    closedBy ??= clientClosing ? "client" : "server";
    resolveInfo(null);
    resolveClosed();
  });
  await opened;

  const send = async (frame) => {
    if (ws.readyState !== WebSocket.OPEN) return false;
    await new Promise((resolve, reject) => ws.send(frame, { binary: true }, (err) => (err ? reject(err) : resolve())));
    return true;
  };
  const sendEvent = async (item) => {
    const type = Object.keys(item.event)[0];
    const frame = await envelope(innerMessage(item.event));
    if (!(await send(frame))) return false;
    if (envelopeCount === replayAt) await send(frame);
    sent.push({ type, kind: item.kind });
    if (type === "VideoEvent") sentVideoBytes += item.bytes ?? 0;
    return true;
  };

  const challenge = await serverInfo; // Amplify sends nothing before the session information
  if (challenge) {
    let going = await sendEvent(script.initialEvent(challenge.type));
    for await (const item of script.rest(challenge)) {
      if (!going) break;
      going = await sendEvent(item);
      if (going && closeWith && item.kind === "VideoChunk") {
        clientClosing = true;
        closedBy = "client";
        ws.close(closeWith);
        break;
      }
    }
    if (going && !closeWith && flags["end-frame"] && (await send(await envelope(new Uint8Array(0))))) {
      sent.push({ type: "(end frame)", kind: "EndFrame" });
    }
  }
  if (!closeWith) await Promise.race([disconnected, closed]);
  await closed;
  await sleep(0);
  if (serverError) throw Object.assign(new Error(serverError.message), serverError);
  if (closedBy === "client") return { ok: closeCode !== null, error: closeCode === null ? { name: "Error", message: "no close" } : undefined };
  const sawDisconnection = events.some((e) => e.type === "DisconnectionEvent");
  if (!sawDisconnection) {
    return { ok: false, error: { name: "ConnectionClosed", message: `the server closed (code ${closeCode}: ${closeReason}) without DisconnectionEvent`, $metadata: {} } };
  }
  if (closeCode !== 1000 && closeCode !== 1001) {
    return { ok: false, error: { name: "ConnectionClosed", message: `Server ended the connection unexpectedly (code ${closeCode}: ${closeReason})`, $metadata: {} } };
  }
  return { ok: true };
}

for (const event of ["uncaughtException", "unhandledRejection"]) {
  process.on(event, (err) => {
    clearTimeout(watchdog);
    finish(report(false, { error: describeError(err), [event]: true }), 1);
  });
}

main().then(
  ({ ok, error }) => {
    clearTimeout(watchdog);
    finish(report(ok, error ? { error } : {}), ok ? 0 : 1);
  },
  (err) => {
    clearTimeout(watchdog);
    const error = describeError(err);
    if (err && err.Code !== undefined) error.Code = err.Code;
    finish(report(false, { error, ...(handshake ? { handshake } : {}), ...(socketError && socketError !== err ? { socketError: describeError(socketError) } : {}) }), 1);
  },
);
