#!/usr/bin/env node
// Records known-answer fixtures for the server's StartFaceLivenessSession verifier, made by the
// real AWS SDK for JavaScript (@aws-sdk/client-rekognitionstreaming) with fixed credentials, a
// fixed clock and fixed values, and checks each one with an independent SigV4 implementation
// (node:crypto) before writing it:
//
//   capture/http1-request.json   method, path, raw headers (Authorization, x-amz-date, ...) of the
//                                SDK's default HTTP/1.1 request, sent to a local Node server
//   capture/http1-body.bin       the raw request body: the signed envelopes, end frame included
//   capture/http2-request.json,  the same with NodeHttp2Handler (h2c): pseudo-headers included;
//   capture/http2-body.bin       the SDK signs `:authority` (no `host` header over HTTP/2)
//   capture/websocket-url.txt    the presigned wss:// URL made by the SDK's WebSocket handler
//   capture/websocket-frames.bin the binary WebSocket messages it sent, each prefixed with its
//                                length (u32 big-endian)
//   capture/manifest.json        the inputs (credentials, region, clock, session) and, for every
//                                envelope, its :date, signature, inner headers and JSON payload
//
//   node capture-envelopes.mjs [--out DIR]    (default DIR: capture/ beside this script)
//   node capture-envelopes.mjs --check         compare instead of writing (SDK drift check)
//
// Only loopback is used: the HTTP/1.1 request goes to a server this script starts on 127.0.0.1,
// and the WebSocket is a stand-in object that records what the SDK sends (no TLS needed).
// Everything signed is machine-independent, so the fixtures come out byte-identical on any machine
// and Node.js version; only the unsigned `user-agent` header in http1-request.json names this
// machine's Node.js and OS.

import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { createHash, createHmac, webcrypto } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags } from "./lib/common.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = "usage: node capture-envelopes.mjs [--out DIR] [--check]\n  --check  write nothing; exit 1 unless the SDK still sends exactly the bytes in DIR\n";
const flags = parseFlags({ out: { type: "string", default: join(here, "capture") }, check: { type: "boolean", default: false } }, USAGE);

// ------------------------------------------------------------------------------------------
// Fixed inputs

const CREDENTIALS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const REGION = "us-east-1";
const SERVICE = "rekognition";
const SESSION_ID = "3f1c9a3e-8d2b-4c7a-9e51-0b6d2f4a7c10";
const CHALLENGE_ID = "6a0d8e52-1b7f-4c3e-a9d4-5e2f7c1b8a90";
const CHALLENGE_VERSIONS = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";
// 2026-03-20T12:48:23.456Z: a clock with milliseconds, to show how :date is written and signed.
const FIXED_MS = Date.UTC(2026, 2, 20, 12, 48, 23, 456);
const HTTP_ENDPOINT = "http://127.0.0.1:8080"; // what the SDK signs; the bytes go to our server
const WS_ENDPOINT = "https://127.0.0.1:8443"; // the SDK turns it into wss://127.0.0.1:8443/...

// A few hundred bytes of "video": an EBML header followed by a counting pattern.
const FAKE_VIDEO = Buffer.concat([
  Buffer.from("1a45dfa39f4286810142f7810142f2810442f381084282847765626d42878104428581021853806701ffffffffffffff", "hex"),
  Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37 + 11) & 0xff)),
]);

// The SDK reads the clock with `new Date()` (request signing) and `Date.now()` (:date of each
// envelope); pin both. Date arithmetic elsewhere keeps working.
const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(FIXED_MS);
    else super(...args);
  }
  static now() {
    return FIXED_MS;
  }
}
globalThis.Date = FixedDate;

// The retry middleware puts a random amz-sdk-invocation-id on every request; pin the generator
// the SDK uses (the global crypto.randomUUID; Node 18 has no global crypto: give it Node's
// WebCrypto object) so the capture is reproducible.
const FIXED_UUID = "00000000-0000-4000-8000-000000000001";
if (!globalThis.crypto) Object.defineProperty(globalThis, "crypto", { value: webcrypto, configurable: true, writable: true });
globalThis.crypto.randomUUID = () => FIXED_UUID;

const { RekognitionStreamingClient, StartFaceLivenessSessionCommand } = await import("@aws-sdk/client-rekognitionstreaming");
const { WebSocketFetchHandler } = await import("@aws-sdk/middleware-websocket");
const { NodeHttpHandler, NodeHttp2Handler } = await import("@smithy/node-http-handler");

function events() {
  return [
    {
      ClientSessionInformationEvent: {
        Challenge: {
          FaceMovementAndLightChallenge: {
            ChallengeId: CHALLENGE_ID,
            VideoStartTimestamp: FIXED_MS - 1000,
            InitialFace: {
              BoundingBox: { Width: 0.3, Height: 0.4, Left: 0.35, Top: 0.3 },
              InitialFaceDetectedTimestamp: FIXED_MS - 900,
            },
          },
        },
      },
    },
    { VideoEvent: { VideoChunk: new Uint8Array(FAKE_VIDEO), TimestampMillis: FIXED_MS } },
    { VideoEvent: { VideoChunk: new Uint8Array(0), TimestampMillis: FIXED_MS } },
  ];
}
async function* requestStream() {
  for (const e of events()) yield e;
}
function command() {
  return new StartFaceLivenessSessionCommand({
    SessionId: SESSION_ID,
    VideoWidth: "640",
    VideoHeight: "480",
    ChallengeVersions: CHALLENGE_VERSIONS,
    LivenessRequestStream: requestStream(),
  });
}

// ------------------------------------------------------------------------------------------
// An independent reader and verifier (node:crypto only), as the Rust server should work.

const sha256hex = (data) => createHash("sha256").update(data).digest("hex");
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();

function signingKey(shortDate) {
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, shortDate);
  for (const part of [REGION, SERVICE, "aws4_request"]) key = hmac(key, part);
  return key;
}

function crc32(buf) {
  let crc = ~0;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** One event-stream message: CRCs checked, headers in wire order. */
function decodeMessage(buf) {
  if (buf.length < 16) throw new Error(`message of ${buf.length} bytes`);
  const total = buf.readUInt32BE(0);
  const headersLen = buf.readUInt32BE(4);
  if (total !== buf.length) throw new Error(`length ${total} != ${buf.length}`);
  if (crc32(buf.subarray(0, 8)) !== buf.readUInt32BE(8)) throw new Error("prelude CRC");
  if (crc32(buf.subarray(0, total - 4)) !== buf.readUInt32BE(total - 4)) throw new Error("message CRC");
  const headers = [];
  let p = 12;
  const end = 12 + headersLen;
  while (p < end) {
    const nameLen = buf[p];
    const name = buf.toString("utf8", p + 1, p + 1 + nameLen);
    p += 1 + nameLen;
    const type = buf[p++];
    let value;
    switch (type) {
      case 0: value = true; break;
      case 1: value = false; break;
      case 2: value = buf.readInt8(p); p += 1; break;
      case 3: value = buf.readInt16BE(p); p += 2; break;
      case 4: value = buf.readInt32BE(p); p += 4; break;
      case 5: case 8: value = Number(buf.readBigInt64BE(p)); p += 8; break;
      case 6: case 7: {
        const n = buf.readUInt16BE(p);
        const bytes = buf.subarray(p + 2, p + 2 + n);
        value = type === 7 ? bytes.toString("utf8") : bytes.toString("hex");
        p += 2 + n;
        break;
      }
      case 9: value = buf.subarray(p, p + 16).toString("hex"); p += 16; break;
      default: throw new Error(`header type ${type}`);
    }
    headers.push({ name, type, value });
  }
  return { headers, payload: buf.subarray(end, total - 4) };
}

function splitMessages(body) {
  const out = [];
  for (let p = 0; p < body.length; ) {
    const n = body.readUInt32BE(p);
    out.push(body.subarray(p, p + n));
    p += n;
  }
  return out;
}

const amzDate = (ms) => new RealDate(ms).toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");

/** Verifies a chain of signed envelopes from `seed`; returns what the manifest lists. */
function verifyChain(frames, seed) {
  let prior = seed;
  return frames.map((frame, i) => {
    const env = decodeMessage(frame);
    const names = env.headers.map((h) => h.name).join(",");
    if (names !== ":date,:chunk-signature") throw new Error(`envelope ${i}: headers ${names}`);
    const dateMs = env.headers[0].value;
    const signature = env.headers[1].value;
    // The signed headers are the :date header alone, encoded exactly as on the wire.
    const dateHeader = Buffer.alloc(1 + 5 + 1 + 8);
    dateHeader[0] = 5;
    dateHeader.write(":date", 1, "latin1");
    dateHeader[6] = 8;
    dateHeader.writeBigInt64BE(BigInt(dateMs), 7);
    const longDate = amzDate(dateMs);
    const scope = `${longDate.slice(0, 8)}/${REGION}/${SERVICE}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256-PAYLOAD", longDate, scope, prior, sha256hex(dateHeader), sha256hex(env.payload)].join("\n");
    const expected = hmac(signingKey(longDate.slice(0, 8)), stringToSign).toString("hex");
    if (expected !== signature) throw new Error(`envelope ${i}: signature ${signature} != ${expected}`);
    prior = signature;
    const entry = { index: i, frameBytes: frame.length, date: dateMs, dateIso: new RealDate(dateMs).toISOString(), signature, payloadBytes: env.payload.length };
    if (env.payload.length === 0) {
      entry.endOfStream = true;
    } else {
      const inner = decodeMessage(env.payload);
      entry.innerHeaders = inner.headers.map(({ name, value }) => [name, value]);
      entry.innerPayload = inner.payload.toString("utf8");
    }
    return entry;
  });
}

const uriEscape = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function verifyAuthorization(method, path, query, headers, auth) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new Error(`Authorization: ${auth}`);
  const [, akid, shortDate, region, service, signedHeaders, signature] = m;
  if (akid !== CREDENTIALS.accessKeyId || region !== REGION || service !== SERVICE) throw new Error(`credential scope of ${auth}`);
  const canonicalHeaders = signedHeaders.split(";").map((h) => `${h}:${String(headers[h]).trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalQuery = [...new URLSearchParams(query)].map(([k, v]) => [uriEscape(k), uriEscape(v)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join("&");
  const canonical = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, headers["x-amz-content-sha256"]].join("\n");
  const longDate = headers["x-amz-date"];
  const stringToSign = ["AWS4-HMAC-SHA256", longDate, `${shortDate}/${region}/${service}/aws4_request`, sha256hex(canonical)].join("\n");
  const expected = hmac(signingKey(shortDate), stringToSign).toString("hex");
  if (expected !== signature) throw new Error(`request signature ${signature} != ${expected}`);
  return { signedHeaders: signedHeaders.split(";"), signature, canonicalRequest: canonical };
}

/** Checks the presigned URL with the given host value; returns the canonical request if valid. */
function verifyPresigned(url, host) {
  const u = new URL(url);
  const q = [...u.searchParams];
  const sig = u.searchParams.get("X-Amz-Signature");
  const longDate = u.searchParams.get("X-Amz-Date");
  const canonicalQuery = q.filter(([k]) => k !== "X-Amz-Signature").map(([k, v]) => [uriEscape(k), uriEscape(v)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join("&");
  const signed = u.searchParams.get("X-Amz-SignedHeaders");
  if (signed !== "host") throw new Error(`X-Amz-SignedHeaders=${signed}`);
  const canonical = ["GET", u.pathname, canonicalQuery, `host:${host}\n`, "host", sha256hex("")].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", longDate, `${longDate.slice(0, 8)}/${REGION}/${SERVICE}/aws4_request`, sha256hex(canonical)].join("\n");
  const ok = hmac(signingKey(longDate.slice(0, 8)), stringToSign).toString("hex") === sig;
  return ok ? canonical : null;
}

// ------------------------------------------------------------------------------------------
// HTTP/1.1 capture

/**
 * A server made by `createServer` (http's or http2's) on a free loopback port that answers with
 * an empty event stream and keeps the request it saw: { server, port, captured() }.
 */
async function recordingServer(createServer) {
  let captured;
  const server = createServer((req, res) => {
    const body = [];
    res.writeHead(200, {
      "content-type": "application/vnd.amazon.eventstream",
      "x-amz-rekognition-streaming-liveness-session-id": SESSION_ID,
    });
    res.flushHeaders();
    req.on("data", (c) => body.push(c));
    req.on("end", () => {
      captured = { method: req.method, url: req.url, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, body: Buffer.concat(body) };
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: server.address().port, captured: () => captured };
}

/** Sends the command with `client` and reads its response stream to the end. */
async function sendAndDrain(client) {
  const response = await client.send(command());
  for await (const _ of response.LivenessResponseStream) {
    // the server sends no events
  }
}

async function captureHttp1() {
  const { server, port, captured } = await recordingServer((handler) => http.createServer(handler));
  // The SDK signs and sends `Host: 127.0.0.1:8080`; this agent connects to our server instead,
  // so the capture does not depend on a free port. The handler is the client's default one.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 }); // as the default handler's
  agent.createConnection = (_opts, cb) => net.connect(port, "127.0.0.1", cb);
  const client = new RekognitionStreamingClient({
    endpoint: HTTP_ENDPOINT,
    region: REGION,
    credentials: { ...CREDENTIALS }, // the SDK marks the object it is given
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: agent }),
  });
  await sendAndDrain(client);
  agent.destroy();
  server.closeAllConnections();
  server.close();
  if (!captured()) throw new Error("the server saw no request");
  return captured();
}

// ------------------------------------------------------------------------------------------
// HTTP/2 capture (h2c, prior knowledge): NodeHttp2Handler signs `:authority`, not `host`.

async function captureHttp2() {
  const { server, port, captured } = await recordingServer((handler) => http2.createServer(handler));
  const client = new RekognitionStreamingClient({
    endpoint: HTTP_ENDPOINT,
    region: REGION,
    credentials: { ...CREDENTIALS },
    maxAttempts: 1,
    // http2.connect(url, options): the session is for 127.0.0.1:8080, the socket goes to our server.
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { createConnection: () => net.connect(port, "127.0.0.1") } }),
  });
  await sendAndDrain(client);
  client.destroy();
  server.close();
  if (!captured()) throw new Error("the HTTP/2 server saw no request");
  return captured();
}

// ------------------------------------------------------------------------------------------
// WebSocket capture: a stand-in WebSocket that records the URL and every message sent.

async function captureWebSocket() {
  const captured = { url: null, frames: [], closeCode: null };
  class RecordingWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.binaryType = "blob";
      captured.url = url;
      setImmediate(() => {
        this.readyState = 1;
        this.onopen?.({});
      });
    }
    send(data) {
      captured.frames.push(Buffer.from(data.buffer ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data));
    }
    close(code) {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      captured.closeCode = code ?? null;
      setImmediate(() => this.onclose?.({ code }));
    }
  }
  globalThis.WebSocket = RecordingWebSocket;
  const client = new RekognitionStreamingClient({
    endpoint: WS_ENDPOINT,
    region: REGION,
    credentials: { ...CREDENTIALS }, // the SDK marks the object it is given
    maxAttempts: 1,
    requestHandler: new WebSocketFetchHandler(),
  });
  const response = await client.send(command());
  for await (const _ of response.LivenessResponseStream) {
    // nothing comes back
  }
  delete globalThis.WebSocket;
  return captured;
}

// ------------------------------------------------------------------------------------------

const h1 = await captureHttp1();
const h1Headers = {};
for (let i = 0; i < h1.rawHeaders.length; i += 2) h1Headers[h1.rawHeaders[i].toLowerCase()] = h1.rawHeaders[i + 1];
const [h1Path, h1Query = ""] = h1.url.split("?");
const auth = verifyAuthorization(h1.method, h1Path, h1Query, h1Headers, h1Headers.authorization);
const h1Envelopes = verifyChain(splitMessages(h1.body), auth.signature);

const h2 = await captureHttp2();
const h2Headers = {};
for (let i = 0; i < h2.rawHeaders.length; i += 2) h2Headers[h2.rawHeaders[i].toLowerCase()] = h2.rawHeaders[i + 1];
const auth2 = verifyAuthorization(h2.method, h2.url.split("?")[0], h2.url.split("?")[1] ?? "", h2Headers, h2Headers.authorization);
const h2Envelopes = verifyChain(splitMessages(h2.body), auth2.signature);

const ws = await captureWebSocket();
const wsUrl = new URL(ws.url);
const canonicalNoPort = verifyPresigned(ws.url, wsUrl.hostname);
const canonicalWithPort = verifyPresigned(ws.url, wsUrl.host);
if (!canonicalNoPort && !canonicalWithPort) throw new Error("the presigned URL verifies with neither host form");
const wsEnvelopes = verifyChain(ws.frames, wsUrl.searchParams.get("X-Amz-Signature"));

const out = flags.out;
const pkg = (name) => JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;

const files = {};
files["http1-request.json"] = Buffer.from(
  `${JSON.stringify({ method: h1.method, path: h1.url, httpVersion: h1.httpVersion, rawHeaders: pairs(h1.rawHeaders), bodyFile: "http1-body.bin", bodyBytes: h1.body.length }, null, 2)}\n`,
);
files["http1-body.bin"] = h1.body;
files["http2-request.json"] = Buffer.from(
  `${JSON.stringify({ method: h2.method, path: h2.url, httpVersion: h2.httpVersion, rawHeaders: pairs(h2.rawHeaders), bodyFile: "http2-body.bin", bodyBytes: h2.body.length }, null, 2)}\n`,
);
files["http2-body.bin"] = h2.body;
files["websocket-url.txt"] = Buffer.from(`${ws.url}\n`);
files["websocket-frames.bin"] = Buffer.concat(ws.frames.flatMap((f) => [u32(f.length), f]));
files["manifest.json"] = Buffer.from(
  `${JSON.stringify(
    {
      about: "Made by tests/node/capture-envelopes.mjs with the real AWS SDK for JavaScript; every signature below was re-verified with node:crypto.",
      sdk: {
        "@aws-sdk/client-rekognitionstreaming": pkg("@aws-sdk/client-rekognitionstreaming"),
        "@aws-sdk/middleware-websocket": pkg("@aws-sdk/middleware-websocket"),
        "@smithy/signature-v4": pkg("@smithy/signature-v4"),
        node: process.version,
      },
      credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
      region: REGION,
      signingService: SERVICE,
      clock: { ms: FIXED_MS, iso: new RealDate(FIXED_MS).toISOString(), amzDate: amzDate(FIXED_MS) },
      sessionId: SESSION_ID,
      challengeId: CHALLENGE_ID,
      challengeVersions: CHALLENGE_VERSIONS,
      fakeVideoBase64: FAKE_VIDEO.toString("base64"),
      http1: {
        endpoint: HTTP_ENDPOINT,
        requestFile: "http1-request.json",
        bodyFile: "http1-body.bin",
        signedHeaders: auth.signedHeaders,
        seedSignature: auth.signature,
        canonicalRequest: auth.canonicalRequest,
        envelopes: h1Envelopes,
      },
      http2: {
        endpoint: HTTP_ENDPOINT,
        requestFile: "http2-request.json",
        bodyFile: "http2-body.bin",
        signedHeaders: auth2.signedHeaders,
        seedSignature: auth2.signature,
        canonicalRequest: auth2.canonicalRequest,
        envelopes: h2Envelopes,
      },
      websocket: {
        endpoint: WS_ENDPOINT,
        urlFile: "websocket-url.txt",
        framesFile: "websocket-frames.bin",
        framesFormat: "each frame: u32 big-endian length, then the frame's bytes",
        hostSigned: canonicalNoPort ? wsUrl.hostname : wsUrl.host,
        verifiesWithHostWithoutPort: Boolean(canonicalNoPort),
        verifiesWithHostWithPort: Boolean(canonicalWithPort),
        canonicalRequest: canonicalNoPort ?? canonicalWithPort,
        seedSignature: wsUrl.searchParams.get("X-Amz-Signature"),
        clientCloseCode: ws.closeCode,
        envelopes: wsEnvelopes,
      },
    },
    null,
    2,
  )}\n`,
);

function pairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}
function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

if (flags.check) {
  // The signed bytes do not depend on the machine: they must match the committed fixtures.
  const authOf = (buf) => JSON.parse(buf.toString("utf8")).rawHeaders.find(([k]) => k.toLowerCase() === "authorization")?.[1];
  const differ = [];
  for (const name of ["http1-body.bin", "http2-body.bin", "websocket-url.txt", "websocket-frames.bin"]) {
    let old = null;
    try {
      old = readFileSync(join(out, name));
    } catch {
      // missing
    }
    if (!old || !old.equals(files[name])) differ.push(name);
  }
  let oldRequest = null;
  try {
    oldRequest = readFileSync(join(out, "http1-request.json"));
  } catch {
    // missing
  }
  if (!oldRequest || authOf(oldRequest) !== authOf(files["http1-request.json"])) differ.push("http1-request.json (Authorization)");
  let oldRequest2 = null;
  try {
    oldRequest2 = readFileSync(join(out, "http2-request.json"));
  } catch {
    // missing
  }
  if (!oldRequest2 || authOf(oldRequest2) !== authOf(files["http2-request.json"])) differ.push("http2-request.json (Authorization)");
  if (differ.length) {
    process.stderr.write(`capture: the SDK's output differs from the fixtures in ${out}: ${differ.join(", ")} (run without --check to re-record)\n`);
    process.exit(1);
  }
  process.stderr.write(`capture: the fixtures in ${out} match what the SDK sends (all signatures verified)\n`);
  process.exit(0);
}
mkdirSync(out, { recursive: true });
for (const [name, data] of Object.entries(files)) writeFileSync(join(out, name), data);
process.stderr.write(
  `capture: ${h1Envelopes.length} HTTP/1.1 envelopes (${h1.body.length} bytes), ${h2Envelopes.length} HTTP/2 envelopes, ${wsEnvelopes.length} WebSocket frames; ` +
    `presigned host signed ${canonicalNoPort ? "without" : "with"} the port; all signatures verified; written to ${out}\n`,
);
