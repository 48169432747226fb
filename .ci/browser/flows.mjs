// The web app's flows in Chromium, as the office and a technician walk them.
// Every page visited is checked with axe-core and watched for CSP violations
// and script errors; the main pages are saved as screenshots.
import { join } from "node:path";
import {
  assert,
  checkAccessibility,
  eventually,
  launchBrowser,
  startServer,
  twilioStandIn,
  watchedContext,
} from "./harness.mjs";

const shots = process.env.SCREENSHOTS;
const password = "correct horse battery staple";
const owner = { name: "Dana Reyes", email: "dana@sparkle.example", business: "Sparkle Cleaners" };
const technician = { name: "Tom Tech", email: "tom@sparkle.example" };

const twilio = await twilioStandIn();
const server = await startServer({
  bin: process.env.FIELDCRM_BIN,
  env: {
    FIELDCRM_TWILIO_API_BASE_URL: twilio.url,
    FIELDCRM_TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000000",
    FIELDCRM_TWILIO_AUTH_TOKEN: "stand-in-token",
    FIELDCRM_TWILIO_FROM: "+15005550006",
  },
});
const browser = await launchBrowser();
const visited = new Set();
let failed = false;

/** Checks the page (once per path) and saves it as `name`.png when named. */
async function look(page, where, name) {
  const path = new URL(page.url()).pathname.replace(/[0-9a-f-]{36}/g, ":id");
  if (!visited.has(path)) {
    visited.add(path);
    const minor = await checkAccessibility(page, where);
    console.log(`  axe-core: ${where} (${path}): no serious or critical violation${minor ? `, ${minor} minor` : ""}`);
  }
  if (name) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function step(title, body) {
  console.log(`- ${title}`);
  await body();
}

try {
  const office = await watchedContext(browser, { viewport: { width: 1280, height: 860 } });
  const desk = await office.newPage();

  await step("the owner signs up", async () => {
    await desk.goto(`${server.url}/`);
    assert(desk.url().endsWith("/app/sign-in"), `/ leads to the sign-in page, not ${desk.url()}`);
    await look(desk, "sign-in", "sign-in");
    await desk.getByRole("link", { name: "Create an account" }).click();
    await look(desk, "sign-up");
    await desk.getByLabel("Business name").fill(owner.business);
    await desk.getByLabel("Your name").fill(owner.name);
    await desk.getByLabel("Email address").fill(owner.email);
    await desk.getByLabel("Password").fill(password);
    await desk.getByLabel("Time zone").fill("America/Chicago");
    await desk.getByRole("button", { name: "Create the account" }).click();
    await desk.waitForURL(/\/app\/appointments/);
  });

  await step("the owner adds a technician", async () => {
    await desk.getByRole("link", { name: "Users" }).click();
    await look(desk, "users", "users");
    await desk.getByLabel("Name").fill(technician.name);
    await desk.getByLabel("Email address").fill(technician.email);
    await desk.getByLabel("Role").selectOption("technician");
    await desk.getByLabel("Password").fill(password);
    await desk.getByRole("button", { name: "Add the user" }).click();
    await desk.getByRole("rowheader", { name: technician.name }).waitFor();
  });

  await step("the owner adds a customer who agreed to texts", async () => {
    await desk.getByRole("link", { name: "Customers" }).click();
    await look(desk, "customers (empty)");
    await desk.getByRole("link", { name: "Add a customer" }).click();
    await look(desk, "new customer");
    await desk.getByLabel("Name").fill("Ada Example");
    await desk.getByLabel("Phone").fill("+1 512 555 0100");
    await desk.getByLabel("Street").fill("12 Main St");
    await desk.getByLabel("City").fill("Austin");
    await desk.getByRole("button", { name: "Save" }).click();
    await desk.getByRole("heading", { level: 1, name: "Ada Example" }).waitFor();
    const sms = desk.getByRole("group", { name: /Text messages/ });
    await sms.getByLabel("Opted in").check();
    await sms.getByLabel("Where it came from").selectOption("verbal");
    await sms.getByRole("button", { name: "Record" }).click();
    await desk.getByText("Opted in").first().waitFor();
    await look(desk, "customer", "customer");
  });

  const problems = office.problems;
  assert(problems.length === 0, `the pages reported:\n${problems.join("\n")}`);
  console.log(`browser flows passed; ${visited.size} pages checked with axe-core; screenshots in ${shots}`);
} catch (error) {
  failed = true;
  console.error(error.stack || String(error));
} finally {
  await browser.close();
  server.stop();
  twilio.close();
}
process.exit(failed ? 1 : 0);
