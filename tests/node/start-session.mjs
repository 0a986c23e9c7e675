#!/usr/bin/env node
// Plays one Face Liveness session against a StartFaceLivenessSession endpoint with the official
// AWS SDK for JavaScript v3 (@aws-sdk/client-rekognitionstreaming), over the transport chosen:
//   http1      the SDK's default Node handler (NodeHttpHandler): HTTP/1.1, chunked request body
//   http2      NodeHttp2Handler: HTTP/2 (h2c with prior knowledge for http://, ALPN h2 for https://)
//   websocket  WebSocketFetchHandler (what Amplify's FaceLivenessDetector uses): the SDK turns the
//              call into GET /start-face-liveness-session-websocket over wss:// (always TLS)
// and prints one JSON report on stdout. Run with --help for the flags.

import { RekognitionStreamingClient, StartFaceLivenessSessionCommand } from "@aws-sdk/client-rekognitionstreaming";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import { WebSocketFetchHandler } from "@aws-sdk/middleware-websocket";
import { WebSocket as WsWebSocket } from "ws";
import {
  DEFAULT_CHALLENGE_VERSIONS, SESSION_FLAGS, checkSessionFlags, credentialsOf, describeError, eventOf, finish, parseFlags,
  serverChallenge, sessionInputs, usageError,
} from "./lib/common.mjs";

const USAGE = `usage: node start-session.mjs --endpoint URL --session-id UUID --video FILE.webm
         --access-key-id AKID --secret-access-key SECRET [options]

  --endpoint URL            http://127.0.0.1:PORT or https://HOST:PORT (websocket: https only;
                            the SDK always connects with wss://)
  --transport T             http1 (default) | http2 | websocket
  --region R                default us-east-1
  --access-key-id ID, --secret-access-key KEY, --session-token TOKEN (optional)
  --session-id UUID         the session to stream into
  --video FILE              WebM file, sent in VideoEvents
  --chunk-bytes N           fixed chunk size (default: about one second of video per chunk,
                            i.e. file size / duration in seconds)
  --duration-ms N           the video's duration (default: read from the WebM, else ~1 Mbit/s)
  --video-width N, --video-height N         default 640 x 480
  --challenge-versions S    default ${DEFAULT_CHALLENGE_VERSIONS}
  --ca FILE                 PEM certificate(s) to trust for https:// and wss:// (self-signed server)
  --first-event WHEN        immediate | after-server-info: when ClientSessionInformationEvent #1 is
                            sent. Default: immediate for http1 (Node sends HTTP/1.1 request headers
                            only with the first body bytes), after-server-info otherwise (Amplify).
  --time-scale X            0 (default): send everything at once; 1: real time (1 s per chunk,
                            the colors' real durations)
  --no-end-frame            after the empty VideoEvent keep the request stream open until the
                            response ends (Amplify's behaviour); default: end the input, so the SDK
                            sends its final empty signed envelope. Over websocket the SDK then
                            closes the socket (1000) at once: a DisconnectionEvent the server sends
                            after that close arrives is lost; use --no-end-frame to wait for it
  --timeout-ms N            give up after N ms (default 20000)

Output: one JSON line on stdout, {"ok":true,"events":[{"type":...,"body":...}],"sentVideoBytes":N,
"sentEvents":[...]} or {"ok":false,"error":{"name","message","$metadata"},...} with exit code 1.
"ok" means the SDK call and its response stream ended without error (check "events" for the
DisconnectionEvent). Over websocket the report adds "url", "closeCode", "closeReason", "closedBy".
`;

const flags = parseFlags(
  {
    ...SESSION_FLAGS,
    transport: { type: "string", default: "http1" },
    "first-event": { type: "string" },
    "no-end-frame": { type: "boolean", default: false },
  },
  USAGE,
);

const { endpoint: endpointUrl, timeoutMs, timeScale } = checkSessionFlags(flags, USAGE);
const transport = flags.transport;
if (!["http1", "http2", "websocket"].includes(transport)) usageError(`unknown --transport '${transport}'`, USAGE);
const firstEvent = flags["first-event"] ?? (transport === "http1" ? "immediate" : "after-server-info");
if (!["immediate", "after-server-info"].includes(firstEvent)) usageError(`unknown --first-event '${firstEvent}'`, USAGE);
if (transport === "websocket" && endpointUrl.protocol !== "https:" && endpointUrl.protocol !== "wss:") {
  process.stderr.write("start-session: note: the SDK's WebSocket handler always connects with wss:// (TLS), whatever the endpoint's scheme\n");
}

const { ca, script } = sessionInputs(flags, USAGE, timeScale);

// ------------------------------------------------------------------------------------------
// Transport

function requestHandler() {
  switch (transport) {
    case "http1":
      // The client's default handler is NodeHttpHandler; given an options object it builds one
      // with these options. The https agent trusts --ca.
      return ca ? { requestHandler: { httpsAgent: { ca } } } : {};
    case "http2":
      // NodeHttp2Handler calls http2.connect(url, nodeHttp2ConnectOptions): plain-text h2c with
      // prior knowledge for http://, TLS + ALPN h2 for https:// (with `ca` trusted).
      return { requestHandler: new NodeHttp2Handler(ca ? { nodeHttp2ConnectOptions: { ca } } : {}) };
    case "websocket": {
      // WebSocketFetchHandler calls `new WebSocket(url)` on the global WebSocket, which Node 18
      // and 20 do not have (Node 22 has one, without a way to pass a CA). Provide the `ws`
      // package's WebSocket, with --ca passed as its TLS option.
      // A browser WebSocket fires "error" events into the void; a `ws` one throws when nobody
      // listens, and the SDK listens only once the socket is open (a failed TLS handshake would
      // crash the process). The SDK would report a failed connection only after its connection
      // timeout, as a bare {$metadata: {httpStatusCode: 500, websocketSynthetic500Error: true}};
      // report the real cause at once instead.
      class TrustingWebSocket extends WsWebSocket {
        constructor(url, protocols) {
          super(url, protocols, ca ? { ca } : {});
          wsUrl = url;
          let opened = false;
          this.once("open", () => (opened = true));
          this.once("close", (code, reason) => {
            wsClose = { closeCode: code, closeReason: reason.toString("utf8"), closedBy: this.closingByClient ? "client" : "server" };
          });
          this.on("error", (err) => {
            socketError ??= err;
            if (!opened) failNow(err);
          });
          this.on("unexpected-response", (_req, res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let body = {};
              try {
                body = JSON.parse(text);
              } catch {
                // not JSON
              }
              const err = new Error(body.Message ?? body.message ?? `the server answered the WebSocket upgrade with HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
              err.name = String(res.headers["x-amzn-errortype"] ?? body.__type ?? "HandshakeRejected").split(":")[0];
              err.$metadata = { httpStatusCode: res.statusCode };
              socketError ??= err;
              failNow(err);
            });
          });
        }
        // The SDK closes (1000) as soon as its input has ended and the end frame is out. (`ws`
        // also calls close() itself to answer the server's Close frame: not ours.)
        close(code, reason) {
          if (this.readyState === WsWebSocket.OPEN && !this._closeFrameReceived) this.closingByClient = true;
          super.close(code, reason);
        }
      }
      globalThis.WebSocket = TrustingWebSocket;
      return { requestHandler: new WebSocketFetchHandler({ connectionTimeout: Math.min(10000, timeoutMs) }) };
    }
  }
  throw new Error("unreachable");
}

// ------------------------------------------------------------------------------------------
// The session

const events = [];
const sent = [];
let socketError = null;
let wsUrl = null;
let wsClose = null; // websocket: the close code and reason (the SDK itself ignores them)
let sentVideoBytes = 0;
let endFrame = false;
let resolveInfo;
const serverInfo = new Promise((resolve) => (resolveInfo = resolve)); // the challenge, or null
let resolveResponseDone;
const responseDone = new Promise((resolve) => (resolveResponseDone = resolve));

function record(item) {
  const type = Object.keys(item.event)[0];
  sent.push({ type, kind: item.kind });
  if (type === "VideoEvent") sentVideoBytes += item.bytes ?? 0;
  return item.event;
}

async function* requestStream() {
  let challenge = null;
  if (firstEvent === "immediate") {
    yield record(script.initialEvent());
    challenge = await serverInfo;
    if (!challenge) return;
  } else {
    challenge = await serverInfo;
    if (!challenge) return;
    yield record(script.initialEvent(challenge.type));
  }
  for await (const item of script.rest(challenge)) yield record(item);
  if (flags["no-end-frame"]) await responseDone;
  else endFrame = true;
}

const abort = new AbortController();
const report = (ok, extra) => ({
  ok,
  ...extra,
  transport,
  events,
  sentVideoBytes,
  sentEvents: sent.map((s) => s.type),
  sentKinds: sent.map((s) => s.kind),
  challengeId: script.challengeId,
  challengeType: script.challengeType,
  videoChunks: script.chunks.length,
  chunkBytes: script.chunkBytes,
  endFrame,
  ...(socketError ? { socketError: describeError(socketError) } : {}),
  ...(wsUrl ? { url: wsUrl } : {}),
  ...(wsClose ?? {}),
});
function failNow(err) {
  clearTimeout(watchdog);
  finish(report(false, { error: describeError(err) }), 1);
}

const watchdog = setTimeout(() => {
  abort.abort();
  finish(report(false, { error: { name: "TimeoutError", message: `no result within ${timeoutMs} ms`, $metadata: {} } }), 1);
}, timeoutMs);

async function main() {
  const client = new RekognitionStreamingClient({
    endpoint: flags.endpoint,
    region: flags.region,
    credentials: credentialsOf(flags),
    maxAttempts: 1, // an event stream cannot be replayed
    ...requestHandler(),
  });
  const command = new StartFaceLivenessSessionCommand({
    SessionId: flags["session-id"],
    VideoWidth: String(script.videoWidth),
    VideoHeight: String(script.videoHeight),
    ChallengeVersions: flags["challenge-versions"],
    LivenessRequestStream: requestStream(),
  });
  let response;
  try {
    response = await client.send(command, { abortSignal: abort.signal });
    for await (const item of response.LivenessResponseStream ?? []) {
      const ev = eventOf(item);
      events.push(ev);
      if (ev.type === "ServerSessionInformationEvent") resolveInfo(serverChallenge(ev.body));
    }
  } finally {
    resolveInfo(null);
    resolveResponseDone();
  }
  return { sessionId: response?.SessionId ?? null };
}

for (const event of ["uncaughtException", "unhandledRejection"]) {
  process.on(event, (err) => {
    clearTimeout(watchdog);
    finish(report(false, { error: describeError(err), [event]: true }), 1);
  });
}

main().then(
  (extra) => {
    clearTimeout(watchdog);
    finish(report(true, extra), 0);
  },
  (err) => {
    clearTimeout(watchdog);
    finish(report(false, { error: describeError(err) }), 1);
  },
);
