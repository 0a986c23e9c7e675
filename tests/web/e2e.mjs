#!/usr/bin/env node
// Drives openliveness's page (or the Amplify example) in Debian's Chromium with a fake camera
// that replays a y4m file, through playwright-core. Prints one JSON report on stdout.
//
//   node e2e.mjs --url http://127.0.0.1:PORT/ --y4m FILE.y4m --artifacts DIR [--page ours|amplify]
//
// ours: presses Start with the keyboard, screenshots every step the page announces
// (<body data-steps>), and waits for the result or the error screen.
// amplify: opens the example, waits for onAnalysisComplete (the page sets data-step=complete) or
// onError (data-step=error).
// Chromium flags: a fake camera from --use-file-for-fake-video-capture, permission granted
// without a prompt; no --user-data-dir (launch() throws on it).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: flags } = parseArgs({
  options: {
    url: { type: "string" },
    y4m: { type: "string" },
    artifacts: { type: "string" },
    page: { type: "string", default: "ours" },
    "timeout-ms": { type: "string", default: "150000" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const name of ["url", "y4m", "artifacts"]) {
  if (!flags[name]) {
    console.error(`--${name} is required`);
    process.exit(2);
  }
}
const timeout = Number(flags["timeout-ms"]);
mkdirSync(flags.artifacts, { recursive: true });

const report = { ok: false, page: flags.page, screenshots: [], console: [], steps: [] };
const finish = (code) => {
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(code);
};

const browser = await chromium.launch({
  executablePath: flags.chromium,
  headless: true,
  args: [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${flags.y4m}`,
    "--ignore-certificate-errors",
    "--disable-gpu",
    "--disable-quic",
    "--no-sandbox",
  ],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, ignoreHTTPSErrors: true });
  page = await context.newPage();
  page.on("console", (message) => report.console.push(`${message.type()}: ${message.text()}`.slice(0, 3000)));
  page.on("pageerror", (error) => report.console.push(`pageerror: ${error.message}`.slice(0, 3000)));
  let shot = 0;
  const screenshot = async (name) => {
    shot += 1;
    const path = join(flags.artifacts, `${String(shot).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path });
    report.screenshots.push(path);
  };
  await page.goto(flags.url, { waitUntil: "load" });

  if (flags.page === "ours") {
    await page.waitForFunction(() => document.body.dataset.step === "intro", null, { timeout: 30000 });
    await screenshot("intro");
    // Keyboard: the start button takes focus with Tab and starts with Enter.
    await page.focus("#start");
    await page.keyboard.press("Enter");
    const wanted = ["camera", "warmup", "face", "oval", "flash", "analysing"];
    const deadline = Date.now() + timeout;
    for (const step of wanted) {
      const reached = await page
        .waitForFunction(
          (s) => {
            const steps = (document.body.dataset.steps ?? "").split(" ");
            return steps.includes(s) || steps.includes("error") || steps.includes("result");
          },
          step,
          { timeout: Math.max(1000, deadline - Date.now()), polling: 50 },
        )
        .then(() => true, () => false);
      if (!reached) break;
      const steps = await page.evaluate(() => document.body.dataset.steps ?? "");
      if (steps.includes("error") || steps.includes("result")) break;
      await screenshot(step);
    }
    await page.waitForFunction(() => ["result", "error"].includes(document.body.dataset.step ?? ""), null, {
      timeout: Math.max(1000, deadline - Date.now()),
    });
    report.steps = (await page.evaluate(() => document.body.dataset.steps ?? "")).split(" ");
    report.step = await page.evaluate(() => document.body.dataset.step);
    report.sessionId = await page.evaluate(() => document.body.dataset.sessionId ?? null);
    report.status = (await page.textContent("#status"))?.trim();
    if (report.step === "result") {
      report.resultStatus = (await page.textContent("#result-status"))?.trim();
      report.confidence = (await page.textContent("#result-confidence"))?.trim();
      report.images = await page.locator("#result-images canvas").count();
      // Keyboard: the result's "Try again" button is reachable.
      report.focused = await page.evaluate(() => document.activeElement?.id ?? document.activeElement?.tagName);
    } else {
      report.error = (await page.textContent("#error-message"))?.trim();
    }
    await screenshot(report.step);
    report.ok = report.step === "result";
  } else {
    const deadline = Date.now() + timeout;
    await page.waitForFunction(() => document.body.dataset.step === "ready", null, { timeout: 60000 });
    await screenshot("ready");
    // The component's start screen (with its photosensitivity warning): "Start video check".
    const start = page.getByRole("button", { name: /start video check/i });
    await start.waitFor({ timeout: 60000 });
    await start.click();
    const finished = () => ["complete", "error"].includes(document.body.dataset.step ?? "");
    // The camera view with the oval (the component draws it on a canvas).
    const drawn = await page
      .waitForFunction(
        () => document.querySelector("canvas") !== null || ["complete", "error"].includes(document.body.dataset.step ?? ""),
        null,
        { timeout: 60000 },
      )
      .then(() => true, () => false);
    if (drawn) await screenshot("camera");
    await page.waitForFunction(finished, null, { timeout: Math.max(1000, deadline - Date.now()), polling: 100 });
    report.step = await page.evaluate(() => document.body.dataset.step);
    report.sessionId = await page.evaluate(() => document.body.dataset.sessionId ?? null);
    report.error = await page.evaluate(() => document.body.dataset.error ?? null);
    await screenshot(report.step);
    report.ok = report.step === "complete";
  }
} catch (error) {
  report.error = String(error?.stack ?? error);
  try {
    report.steps = (await page?.evaluate(() => document.body.dataset.steps ?? ""))?.split(" ");
    const path = join(flags.artifacts, "failure.png");
    await page?.screenshot({ path });
    report.screenshots.push(path);
  } catch {
    // the page is gone
  }
} finally {
  await browser.close();
}
finish(report.ok ? 0 : 1);
