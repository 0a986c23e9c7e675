// StartFaceLivenessSession over WebSocket, on the wire exactly as Amplify's FaceLivenessDetector
// does it through the AWS SDK: a SigV4-presigned URL (X-Amz-Expires=299, only `host` signed,
// without its port, the session token in the query), then one signed event-stream envelope per
// binary WebSocket message, each `:chunk-signature` chained from the previous one and seeded by
// the URL's X-Amz-Signature; the same @smithy packages the SDK uses do the signing and framing.

import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@smithy/core/checksum";
import { EventStreamCodec } from "@smithy/core/event-streams";
import { HttpRequest, buildQueryString } from "@smithy/core/protocols";
import { fromHex, fromUtf8, toUtf8 } from "@smithy/core/serde";

export interface ClientCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ServerEvent {
  type: string;
  exception: boolean;
  body: any;
}

export const CHALLENGE_VERSIONS = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export class LivenessStream {
  private readonly codec = new EventStreamCodec(toUtf8, fromUtf8);
  private readonly signer: SignatureV4;
  private priorSignature = "";
  private queue: Promise<void> = Promise.resolve();
  private socket: WebSocket | null = null;
  /** Every server event, in order. */
  readonly events: ServerEvent[] = [];
  onEvent: (event: ServerEvent) => void = () => {};
  closeCode: number | null = null;
  closeReason = "";
  private closedResolve!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.closedResolve = resolve));

  constructor(
    private readonly endpoint: URL,
    private readonly region: string,
    credentials: ClientCredentials,
  ) {
    this.signer = new SignatureV4({ credentials, region, service: "rekognition", sha256: Sha256 });
  }

  /** Presigns the URL and opens the socket. */
  async open(sessionId: string, videoWidth: number, videoHeight: number): Promise<string> {
    const port = this.endpoint.port ? Number(this.endpoint.port) : undefined;
    const basePath = this.endpoint.pathname.replace(/\/+$/, "");
    const request = new HttpRequest({
      protocol: this.endpoint.protocol === "http:" ? "ws:" : "wss:",
      hostname: this.endpoint.hostname,
      port,
      method: "GET",
      path: `${basePath}/start-face-liveness-session-websocket`,
      query: {
        "session-id": sessionId,
        "video-width": String(videoWidth),
        "video-height": String(videoHeight),
        "challenge-versions": CHALLENGE_VERSIONS,
        "x-amz-user-agent": "openliveness-web/0.1.0",
        "attempt-count": "1",
        "precheck-view-enabled": "1",
      },
      headers: { host: this.endpoint.hostname },
      body: "",
    });
    const signed = await this.signer.presign(request, {
      expiresIn: 299,
      unsignableHeaders: new Set(Object.keys(request.headers).filter((h) => h !== "host")),
    });
    const query = signed.query ?? {};
    this.priorSignature = query["X-Amz-Signature"] as string;
    const scheme = this.endpoint.protocol === "http:" ? "ws:" : "wss:";
    const url = `${scheme}//${this.endpoint.host}${signed.path}?${buildQueryString(query)}`;
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (event) => {
      this.closeCode = event.code;
      this.closeReason = event.reason;
      this.closedResolve();
    });
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("the server refused the connection")), { once: true });
    });
    return url;
  }

  private receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) return;
    const message = this.codec.decode(new Uint8Array(data));
    const header = (name: string) => message.headers[name]?.value as string | undefined;
    const text = toUtf8(message.body);
    let body: any = null;
    try {
      body = text.length ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    const messageType = header(":message-type");
    const event: ServerEvent =
      messageType === "event"
        ? { type: header(":event-type") ?? "", exception: false, body }
        : { type: header(":exception-type") ?? header(":error-code") ?? "error", exception: true, body };
    this.events.push(event);
    this.onEvent(event);
  }

  /** Sends one event in a signed envelope; events go out in call order, the chain in step. */
  send(type: string, body: unknown): Promise<void> {
    const next = this.queue.then(async () => {
      const socket = this.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      const inner = this.codec.encode({
        headers: {
          ":event-type": { type: "string", value: type },
          ":message-type": { type: "string", value: "event" },
          ":content-type": { type: "string", value: "application/json" },
        },
        body: fromUtf8(JSON.stringify(body, (_k, v) => (v instanceof Uint8Array ? base64(v) : v))),
      });
      const date = new Date();
      const dateHeader = { ":date": { type: "timestamp" as const, value: date } };
      const { signature } = await this.signer.sign(
        { message: { headers: dateHeader, body: inner }, priorSignature: this.priorSignature },
        { signingDate: date },
      );
      this.priorSignature = signature;
      const envelope = this.codec.encode({
        headers: { ...dateHeader, ":chunk-signature": { type: "binary", value: fromHex(signature) } },
        body: inner,
      });
      socket.send(envelope);
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** Closes the socket with `code` (Amplify's 4xxx codes when the person cancels or fails). */
  close(code: number): void {
    this.socket?.close(code);
  }
}
