// What the browser flows stand on: the server on a fresh database, a Twilio
// stand-in on loopback, Chromium, and the checks every page gets (axe-core,
// no Content-Security-Policy violation, no console error).
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Listens on a free loopback port; resolves to it. */
function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

/**
 * Twilio's Messages API as the server calls it: a form POST to
 * /2010-04-01/Accounts/{sid}/Messages.json with basic auth, answered 201 with
 * the message's sid. Every message is kept, for the flows to read.
 */
export async function twilioStandIn() {
  const messages = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url);
      if (req.method !== "POST" || !match) {
        res.writeHead(404).end();
        return;
      }
      const form = new URLSearchParams(body);
      const sid = `SM${String(messages.length).padStart(32, "0")}`;
      messages.push({ to: form.get("To"), from: form.get("From"), body: form.get("Body"), sid });
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ sid, status: "queued" }));
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, messages, close: () => server.close() };
}

/**
 * Google's OAuth endpoints as a browser and the server meet them: the consent
 * screen (`/auth`) answers at once as a person who allows everything, sending
 * the browser back to `redirect_uri` with a code and the same `state`; the
 * token endpoint exchanges that code for tokens with an ID token naming
 * `email`; revocation says yes. Calendar calls get 404 (the flows do not sync).
 */
export async function googleStandIn(email) {
  const exchanged = [];
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const url = new URL(req.url, "http://stand-in");
      if (req.method === "GET" && url.pathname === "/auth") {
        const back = new URL(url.searchParams.get("redirect_uri"));
        back.searchParams.set("state", url.searchParams.get("state"));
        back.searchParams.set("code", "4/stand-in-code");
        back.searchParams.set("scope", url.searchParams.get("scope"));
        res.writeHead(302, { location: back.toString() }).end();
      } else if (req.method === "POST" && url.pathname === "/token") {
        const form = new URLSearchParams(body);
        exchanged.push(form.get("code"));
        const idToken = `${b64({ alg: "none" })}.${b64({ sub: "1000001", email })}.`;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            access_token: "ya29.stand-in",
            expires_in: 3599,
            refresh_token: "1//stand-in-refresh",
            scope: "https://www.googleapis.com/auth/calendar.events openid email",
            token_type: "Bearer",
            id_token: idToken,
          }),
        );
      } else if (req.method === "POST" && url.pathname === "/revoke") {
        res.writeHead(200).end();
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":404}}');
      }
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, exchanged, close: () => server.close() };
}

/** The server binary on a fresh SQLite database; resolves once it is ready. */
export async function startServer({ bin, env }) {
  const dir = mkdtempSync(join(tmpdir(), "fieldcrm-browser-"));
  const probe = createServer();
  const port = await listen(probe);
  probe.close();
  const child = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: `sqlite://${join(dir, "browser.db")}`,
      PORT: String(port),
      FIELDCRM_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) {
        return {
          url,
          stop: () => {
            child.kill();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error("the server did not become ready in 20 s");
}

export async function launchBrowser() {
  // Root in a container has no user namespace for Chromium's sandbox.
  const args = process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args });
}

/**
 * A browser context whose pages are watched: a CSP violation or a console
 * error fails the flow. `viewport` and `isMobile` make the technician's phone.
 */
export async function watchedContext(browser, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const problems = [];
  context.on("page", (page) => watch(page, problems));
  context.problems = problems;
  return context;
}

function watch(page, problems) {
  page.on("console", (message) => {
    // Chromium reports every 4xx page as a failed load; refused forms answer
    // 4xx on purpose. Anything else logged as an error (a CSP violation among
    // them) is a problem.
    const text = message.text();
    if (message.type() === "error" && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
      problems.push(`${page.url()}: console error: ${text}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`${page.url()}: script error: ${error.message}`));
}

/** Runs axe-core on the page; serious and critical violations fail the flow. */
export async function checkAccessibility(page, where) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const results = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length > 0) {
    const lines = bad.map(
      (v) => `  ${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(" ")}`).join("\n")}`,
    );
    throw new Error(`axe-core on ${where} (${page.url()}):\n${lines.join("\n")}`);
  }
  return results.violations.length;
}

/** Waits until `check()` is truthy, up to `ms`. */
export async function eventually(what, check, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
