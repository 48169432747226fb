// The web app's flows in Chromium, as the office and a technician walk them.
// Every page visited is checked with axe-core and watched for CSP violations
// and script errors; the main pages are saved as screenshots.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  assert,
  checkAccessibility,
  eventually,
  googleStandIn,
  launchBrowser,
  startServer,
  twilioStandIn,
  watchedContext,
} from "./harness.mjs";

const shots = process.env.SCREENSHOTS;
const password = "correct horse battery staple";
const owner = { name: "Dana Reyes", email: "dana@sparkle.example", business: "Sparkle Cleaners" };
const technician = { name: "Tom Tech", email: "tom@sparkle.example" };
const customer = { name: "Ada Example", phone: "+1 512 555 0100", e164: "+15125550100" };

/** A control's label, whole, with or without the form's "(optional)". */
function named(text) {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped}( \\(optional\\))?$`);
}

/**
 * The account's time zone: a fixed offset from UTC where it is now about 8 in
 * the morning, so the flow's "today" has the rest of the day ahead of it
 * whatever the hour it runs at (an appointment booked for an hour from now at
 * 23:30 UTC would be tomorrow's). tz database names count the other way:
 * Etc/GMT-9 is nine hours ahead of UTC.
 */
const OFFSET_HOURS = (() => {
  const ahead = (8 - new Date().getUTCHours() + 24) % 24;
  return ahead > 14 ? ahead - 24 : ahead;
})();
const TIME_ZONE =
  OFFSET_HOURS === 0 ? "UTC" : `Etc/GMT${OFFSET_HOURS > 0 ? "-" : "+"}${Math.abs(OFFSET_HOURS)}`;

/** A time `hours` from now. */
function inHours(hours) {
  return new Date(Date.now() + hours * 3600 * 1000);
}
/** A time as a `datetime-local` control takes it, in the account's time zone. */
function localInput(date) {
  return new Date(date.getTime() + OFFSET_HOURS * 3600 * 1000).toISOString().slice(0, 16);
}

/**
 * Presses Tab until the focused element is a `tag` named `name` (its label or
 * text): the keyboard-only flow reaches every control this way or fails.
 */
async function tabTo(page, tag, name) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press("Tab");
    const reached = await page.evaluate(
      ([tag, name]) => {
        const el = document.activeElement;
        if (!el || el.tagName.toLowerCase() !== tag) return false;
        const label = el.labels && el.labels.length ? el.labels[0].textContent : el.textContent;
        return (label || "").replace(/\s+/g, " ").trim().startsWith(name);
      },
      [tag, name],
    );
    if (reached) return;
  }
  throw new Error(`the keyboard never reached the ${tag} "${name}"`);
}

/** Types a date and time into a focused `datetime-local` control, field by field. */
async function typeDateTime(page, date) {
  const [day, time] = localInput(date).split("T");
  const [y, m, d] = day.split("-");
  const [hh, mm] = time.split(":");
  // Chromium's control in the en-US locale: month, day, year, hour, minute, AM/PM.
  const hour = Number(hh);
  await page.keyboard.type(`${m}${d}${y}`);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.type(String(((hour + 11) % 12) + 1).padStart(2, "0"));
  await page.keyboard.type(mm);
  await page.keyboard.type(hour < 12 ? "A" : "P");
}

/** Chooses `label` in the focused select with the arrow keys. */
async function selectByKeyboard(page, label) {
  for (let i = 0; i < 30; i++) {
    const chosen = await page.evaluate(() => {
      const el = document.activeElement;
      return el.options[el.selectedIndex] ? el.options[el.selectedIndex].textContent.trim() : "";
    });
    if (chosen === label) return;
    await page.keyboard.press("ArrowDown");
  }
  throw new Error(`the keyboard could not choose ${label}`);
}

const twilio = await twilioStandIn();
const googleEmail = "dana.reyes@gmail.example";
const google = await googleStandIn(googleEmail);
const server = await startServer({
  bin: process.env.FIELDCRM_BIN,
  env: {
    FIELDCRM_TWILIO_API_BASE_URL: twilio.url,
    FIELDCRM_TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000000",
    FIELDCRM_TWILIO_AUTH_TOKEN: "stand-in-token",
    FIELDCRM_TWILIO_FROM: "+15005550006",
    FIELDCRM_GOOGLE_CLIENT_ID: "stand-in.apps.googleusercontent.com",
    FIELDCRM_GOOGLE_CLIENT_SECRET: "stand-in-secret",
    FIELDCRM_TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
    FIELDCRM_GOOGLE_AUTH_URL: `${google.url}/auth`,
    FIELDCRM_GOOGLE_TOKEN_URL: `${google.url}/token`,
    FIELDCRM_GOOGLE_REVOKE_URL: `${google.url}/revoke`,
    FIELDCRM_GOOGLE_API_ROOT_URL: `${google.url}/`,
    FIELDCRM_GOOGLE_PUSH_ENABLED: "false",
  },
});
const browser = await launchBrowser();
const visited = new Set();
let technicianId;
let failed = false;

/** Checks the page (once per path) and saves it as `name`.png when named. */
async function look(page, where, name) {
  const path = new URL(page.url()).pathname.replace(/[0-9a-f-]{36}/g, ":id");
  if (!visited.has(where)) {
    visited.add(where);
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
  desk.on("dialog", (dialog) => dialog.accept());

  await step("the owner signs up", async () => {
    await desk.goto(`${server.url}/`);
    assert(desk.url().endsWith("/app/sign-in"), `/ leads to the sign-in page, not ${desk.url()}`);
    await look(desk, "sign-in", "sign-in");
    await desk.getByRole("link", { name: "Create an account" }).click();
    await look(desk, "sign-up");
    await desk.getByLabel(named("Business name")).fill(owner.business);
    await desk.getByLabel(named("Your name")).fill(owner.name);
    await desk.getByLabel(named("Email address")).fill(owner.email);
    await desk.getByLabel(named("Password")).fill(password);
    await desk.getByLabel(named("Time zone")).fill(TIME_ZONE);
    await desk.getByRole("button", { name: "Create the account" }).click();
    await desk.waitForURL(/\/app\/appointments/);
  });

  await step("the owner turns quiet hours off, so texts go out at any hour", async () => {
    await desk.getByRole("link", { name: "Settings" }).click();
    await look(desk, "settings", "settings");
    await desk.getByLabel(named("Quiet hours start")).fill("00:00");
    await desk.getByLabel(named("Quiet hours end")).fill("00:00");
    await desk.getByRole("button", { name: "Save the settings" }).click();
    await desk.getByText("The settings are saved.").waitFor();
  });

  await step("the owner connects Google Calendar through the consent screen and back", async () => {
    await desk.getByRole("link", { name: "Settings" }).click();
    await desk.getByRole("link", { name: "Google Calendar and Gmail" }).click();
    await look(desk, "google (not connected)");
    // The return page as it is without an answer in its fragment.
    await desk.goto(`${server.url}/app/settings/google/return`);
    await look(desk, "google: finish connecting");
    await desk.goBack();
    await desk.getByRole("button", { name: "Connect Google" }).click();
    // Google sends the browser back with the confirmation in the fragment;
    // the return page's script sends it on, and the fragment is gone.
    await desk.waitForURL(/\/app\/settings\/google\?done=connected$/);
    await desk.getByText("Google is connected.").waitFor();
    await desk.getByText(googleEmail).waitFor();
    assert(google.exchanged.length === 1, `one code exchanged, not ${google.exchanged.length}`);
    await look(desk, "google (connected)", "google");
    await desk.getByRole("button", { name: "Disconnect" }).click();
    await desk.getByText("Google is disconnected.").waitFor();
  });

  await step("the owner adds a technician", async () => {
    await desk.getByRole("link", { name: "Users" }).click();
    await look(desk, "users", "users");
    await desk.getByLabel(named("Name")).fill(technician.name);
    await desk.getByLabel(named("Email address")).fill(technician.email);
    await desk.getByLabel(named("Role")).selectOption("technician");
    await desk.getByLabel(named("Password")).fill(password);
    await desk.getByRole("button", { name: "Add the user" }).click();
    await desk.getByRole("rowheader", { name: technician.name }).waitFor();
    const phones = await desk.getByRole("link", { name: `Phones of ${technician.name}` }).getAttribute("href");
    technicianId = phones.split("/")[3];
  });

  await step("the owner adds a customer who agreed to texts", async () => {
    await desk.getByRole("link", { name: "Customers" }).click();
    await look(desk, "customers (empty)");
    // A form goes once: a second submit while the first is on its way is held back.
    const held = await desk.evaluate(() => {
      const form = document.querySelector("form[role=search]");
      const submit = () => {
        const event = new Event("submit", { bubbles: true, cancelable: true });
        form.dispatchEvent(event);
        return event.defaultPrevented;
      };
      return [submit(), submit()];
    });
    assert(held[0] === false && held[1] === true, `the second submit is held back: ${held}`);
    await desk.getByRole("link", { name: "Add a customer" }).click();
    await look(desk, "new customer");
    await desk.getByLabel(named("Name")).fill(customer.name);
    await desk.getByLabel(named("Phone")).fill(customer.phone);
    await desk.getByLabel(named("Street and number")).fill("12 Main St");
    await desk.getByLabel(named("City")).fill("Austin");
    // A double click, as people do; whether Chromium sends it twice depends on timing, so
    // the guard itself is checked on the search form above.
    await desk.getByRole("button", { name: "Save" }).dblclick();
    await desk.getByRole("heading", { level: 1, name: customer.name }).waitFor();
    const sms = desk.getByRole("group", { name: /Text messages/ });
    await sms.getByLabel(named("Opted in")).check();
    await sms.getByLabel(named("Where it came from")).selectOption("verbal");
    await sms.getByRole("button", { name: "Record" }).click();
    await desk.getByRole("cell", { name: "Opted in" }).first().waitFor();
    await look(desk, "customer", "customer");
  });

  await step("the owner books an appointment for the technician", async () => {
    await desk.getByRole("link", { name: "Appointments" }).click();
    await look(desk, "schedule (empty)");
    await desk.getByRole("link", { name: "Book an appointment" }).click();
    await look(desk, "booking: choose the customer");
    await desk.getByLabel(named("Search customers and prospects")).fill("Ada");
    await desk.getByRole("button", { name: "Search" }).click();
    assert(
      (await desk.getByRole("link", { name: `Book for ${customer.name}` }).count()) === 1,
      "one customer, however often Save was clicked",
    );
    await desk.getByRole("link", { name: `Book for ${customer.name}` }).click();
    await look(desk, "booking form", "booking");
    await desk.getByLabel(named("Title")).fill("Deep clean");
    await desk.getByLabel(named("Starts")).fill(localInput(inHours(1)));
    await desk.getByLabel(named("Ends")).fill(localInput(inHours(3)));
    await desk.getByLabel(named("Technician")).selectOption({ label: technician.name });
    await desk.getByRole("button", { name: "Save" }).click();
    await desk.getByRole("heading", { level: 1, name: /Deep clean/ }).waitFor();
    await look(desk, "appointment");
    await desk.getByRole("link", { name: "Appointments" }).click();
    await desk.getByRole("link", { name: /Deep clean/ }).waitFor();
    await look(desk, "schedule", "schedule");
  });

  await step("booking another appointment with the keyboard alone", async () => {
    await desk.goto(`${server.url}/app/appointments`);
    await tabTo(desk, "a", "Book an appointment");
    await desk.keyboard.press("Enter");
    await desk.waitForURL(/\/appointments\/new/);
    await tabTo(desk, "input", "Search customers and prospects");
    await desk.keyboard.type("Ada");
    await desk.keyboard.press("Enter");
    await desk.waitForURL(/q=Ada/);
    await tabTo(desk, "a", `Book for ${customer.name}`);
    await desk.keyboard.press("Enter");
    await desk.waitForURL(/customer=/);
    await tabTo(desk, "input", "Title");
    await desk.keyboard.type("Window check");
    await tabTo(desk, "input", "Starts");
    await typeDateTime(desk, inHours(26));
    await tabTo(desk, "input", "Ends");
    await typeDateTime(desk, inHours(27));
    await tabTo(desk, "select", "Technician");
    await selectByKeyboard(desk, technician.name);
    await tabTo(desk, "button", "Save");
    await desk.keyboard.press("Enter");
    await desk.getByRole("heading", { level: 1, name: /Window check/ }).waitFor();
  });

  const phone = await watchedContext(browser, {
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    geolocation: { latitude: 30.2672, longitude: -97.7431, accuracy: 12 },
    permissions: ["geolocation"],
  });
  const hand = await phone.newPage();
  let deviceToken;
  let clockedIn;

  await step("the technician signs in on a phone and sets up Traccar Client", async () => {
    await hand.goto(`${server.url}/app/sign-in`);
    await hand.getByLabel(named("Email address")).fill(technician.email);
    await hand.getByLabel(named("Password")).fill(password);
    await hand.getByRole("button", { name: "Sign in" }).click();
    await hand.waitForURL(/\/app\/today/);
    await hand.getByRole("heading", { name: /Deep clean/ }).waitFor();
    await look(hand, "technician: today", "technician-today");
    await hand.getByRole("link", { name: "Set up Traccar Client" }).click();
    await look(hand, "technician: phones");
    await hand.getByLabel(named("A name for the phone")).fill("Tom's Android");
    await hand.getByRole("button", { name: "Add and show the setup" }).click();
    const link = await hand.getByRole("link", { name: "Set up Traccar Client" }).getAttribute("href");
    const serverUrl = new URL(link).searchParams.get("url");
    deviceToken = new URL(serverUrl).pathname.split("/").pop();
    assert(deviceToken.startsWith("fcrm_dev_"), `a device token in the setup link: ${link}`);
    await look(hand, "technician: phone setup", "phone-setup");
  });

  await step("the technician clocks in (with the browser's position) and marks the appointment on the way", async () => {
    await hand.getByRole("link", { name: "Today" }).click();
    await hand.getByRole("button", { name: "Clock in" }).click();
    await hand.getByText("Clocked in since").waitFor();
    clockedIn = Math.ceil(Date.now() / 1000);
    await look(hand, "technician: clocked in");
    // The lifecycle goes through confirmed to on the way; each sends its text.
    await hand.getByRole("button", { name: "Confirm", exact: true }).first().click();
    await hand.getByRole("button", { name: "Mark as on the way" }).first().click();
    await hand.getByRole("button", { name: "Mark as in progress" }).first().waitFor();
    const text = await eventually("the on-my-way text at the SMS stand-in", () =>
      twilio.messages.find((m) => m.to === customer.e164 && /is on the way/.test(m.body)),
    );
    assert(text.body.includes(owner.business), `the on-my-way text names the business: ${text.body}`);
  });

  await step("Traccar Client sends positions through the OsmAnd endpoint", async () => {
    // Recorded inside the shift, a few seconds apart, none in the future.
    const start = clockedIn + 1;
    await eventually("the positions' times to have come", () => Date.now() / 1000 >= start + 15, 30000);
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${server.url}/v1/ingest/osmand/${deviceToken}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          id: "toms-android",
          lat: String(30.2672 + i * 0.001),
          lon: String(-97.7431 + i * 0.0008),
          timestamp: String(start + i * 3),
          accuracy: "8",
          speed: "11.6",
          batt: "76",
        }),
      });
      assert(response.status === 200, `OsmAnd answered ${response.status}`);
    }
  });

  await step("the office sees the technician on the live map", async () => {
    await desk.getByRole("link", { name: "Live map" }).click();
    await desk.getByRole("cell", { name: technician.name }).first().waitFor();
    await look(desk, "live map", "live");
  });

  await step("the technician clocks out; the office sees the route and the timesheet", async () => {
    await hand.getByRole("button", { name: "Clock out" }).click();
    await hand.getByRole("button", { name: "Clock in" }).waitFor();
    await hand.getByRole("link", { name: "My hours" }).click();
    await look(hand, "technician: my hours", "technician-hours");
    await desk.getByRole("link", { name: "Timesheets" }).click();
    await desk.getByText(technician.name).first().waitFor();
    await look(desk, "timesheets", "timesheets");
    await desk.locator('a[href^="/app/shifts/"]').first().click();
    await desk.locator("svg polyline").first().waitFor();
    await look(desk, "route", "route");
    const gpx = desk.waitForEvent("download");
    await desk.getByRole("link", { name: /GPX/ }).click();
    const saved = await (await gpx).path();
    const document = readFileSync(saved, "utf8");
    assert((document.match(/<trkpt /g) || []).length === 6, "the GPX holds the six positions");
  });

  await step("the owner looks at the messages log", async () => {
    await desk.getByRole("link", { name: "Messages" }).click();
    await desk.getByRole("cell", { name: customer.e164 }).first().waitFor();
    await look(desk, "messages", "messages");
  });

  await step("every other page of the office passes axe-core", async () => {
    await desk.getByRole("link", { name: "Customers" }).click();
    await desk.getByRole("link", { name: customer.name }).click();
    const person = new URL(desk.url()).pathname;
    await desk.getByRole("link", { name: "Appointments" }).click();
    await desk.getByRole("link", { name: /Deep clean/ }).first().click();
    const appointment = new URL(desk.url()).pathname;
    const pages = [
      ["customer: edit", `${person}/edit`],
      ["customer: erase", `${person}/erase`],
      ["prospects", "/app/prospects"],
      ["new prospect", "/app/prospects/new"],
      ["appointment: reschedule", `${appointment}/edit`],
      ["schedule: week", "/app/appointments?view=week"],
      ["API keys", "/app/api-keys"],
      ["webhooks", "/app/webhooks"],
      ["technician's phones, from the office", `/app/users/${technicianId}/devices`],
      ["a page that does not exist", "/app/no-such-page"],
    ];
    for (const [where, path] of pages) {
      await desk.goto(`${server.url}${path}`);
      await look(desk, where);
    }
    await desk.goto(`${server.url}/app/`);
  });

  await step("the owner exports the account, then deletes it, and the session ends", async () => {
    await desk.getByRole("link", { name: "Account" }).click();
    await look(desk, "account", "account");
    const download = desk.waitForEvent("download");
    await desk.getByRole("link", { name: "Download the export" }).click();
    const exported = JSON.parse(readFileSync(await (await download).path(), "utf8"));
    assert(JSON.stringify(exported).includes(customer.name), "the export holds the customer");
    await desk.getByLabel(named("The business's name, as shown above")).fill(owner.business);
    await desk.getByLabel(named("Your password")).fill(password);
    await desk.getByRole("button", { name: "Delete the account" }).click();
    await desk.getByRole("heading", { name: "The account is deleted" }).waitFor();
    await look(desk, "account deleted");
    await desk.goto(`${server.url}/app/customers`);
    assert(desk.url().endsWith("/app/sign-in"), `the session ended: ${desk.url()}`);
    await hand.goto(`${server.url}/app/today`);
    assert(hand.url().endsWith("/app/sign-in"), `the technician's session ended too: ${hand.url()}`);
  });

  const problems = [...office.problems, ...phone.problems];
  assert(problems.length === 0, `the pages reported:\n${problems.join("\n")}`);
  console.log(`browser flows passed; ${visited.size} pages checked with axe-core; screenshots in ${shots}`);
} catch (error) {
  failed = true;
  console.error(error.stack || String(error));
} finally {
  await browser.close();
  server.stop();
  twilio.close();
  google.close();
}
process.exit(failed ? 1 : 0);
