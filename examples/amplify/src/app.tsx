// Amplify's FaceLivenessDetectorCore against openliveness, with nothing fetched from a CDN:
// config.endpointOverride is this server (wss://, TLS with the development certificate),
// config.credentialProvider returns the session-scoped client credentials the backend minted,
// config.faceModelUrl the TensorFlow.js BlazeFace built by convert_blazeface.py and
// config.binaryPath the wasm files of @tensorflow/tfjs-backend-wasm 4.11.0, all served here.
//
// The "backend" is the server's --demo route; a real app's backend creates the session with
// CreateFaceLivenessSession and calls POST /v1/client-credentials with its own key.

import React, { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { FaceLivenessDetectorCore } from "@aws-amplify/ui-react-liveness";
import "@aws-amplify/ui-react/styles.css";

interface DemoSession {
  SessionId: string;
  Region: string;
  Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
}

const mark = (step: string, extra: Record<string, string> = {}) => {
  document.body.dataset.step = step;
  Object.assign(document.body.dataset, extra);
};

function App() {
  const [session, setSession] = useState<DemoSession | null>(null);
  const [result, setResult] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetch("/demo/session", { method: "POST" })
      .then(async (response) => {
        if (!response.ok) throw new Error(`POST /demo/session: HTTP ${response.status} (start the server with --demo)`);
        const created: DemoSession = await response.json();
        setSession(created);
        mark("ready", { sessionId: created.SessionId });
      })
      .catch((e: Error) => {
        setError(e.message);
        mark("error", { error: e.message });
      });
  }, []);

  if (error) return <p role="alert">{error}</p>;
  if (!session) return <p>Creating a session…</p>;
  if (result) {
    return (
      <section>
        <h2>Result</h2>
        <pre>{JSON.stringify(result, (k, v) => (k === "Bytes" ? `<${String(v).length} base64 characters>` : v), 2)}</pre>
      </section>
    );
  }
  const origin = window.location.origin;
  return (
    <FaceLivenessDetectorCore
      sessionId={session.SessionId}
      region={session.Region}
      onAnalysisComplete={async () => {
        const response = await fetch(`/demo/session/${session.SessionId}/results`);
        const body = await response.json();
        setResult(body);
        mark("complete", { status: String(body.Status) });
      }}
      onError={(livenessError) => {
        const message = `${livenessError.state}: ${livenessError.error?.message ?? ""}`;
        setError(message);
        mark("error", { error: message });
      }}
      config={{
        endpointOverride: origin,
        faceModelUrl: `${origin}/blazeface/model.json`,
        binaryPath: `${origin}/tfjs-wasm/`,
        credentialProvider: async () => ({
          accessKeyId: session.Credentials.AccessKeyId,
          secretAccessKey: session.Credentials.SecretAccessKey,
          sessionToken: session.Credentials.SessionToken,
          expiration: new Date(session.Credentials.Expiration),
        }),
      }}
    />
  );
}

const root = document.getElementById("root");
if (root) createRoot(root).render(<App />);
