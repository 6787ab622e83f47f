// Drives harp's inspector page in headless Chromium (Debian's, through playwright-core)
// for the e2e tests: SCENARIO is replay, mock or record. Prints one JSON line of what it
// saw; exits non-zero with the reason when something is missing. Screenshots of each
// view go to SHOTS (a folder under target/, not committed).
"use strict";
const { chromium } = require("playwright-core");

const [scenario] = process.argv.slice(2);
const proxy = process.env.HARP_PROXY;
const shots = process.env.SHOTS;
const pageUrl = process.env.PAGE_URL;
const timeout = 15000;

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${scenario}-${name}.png`, fullPage: true });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--proxy-bypass-list=<-loopback>", "--disable-background-networking"],
    proxy: proxy ? { server: proxy } : undefined,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const inspector = await context.newPage();
  const seen = {};
  try {
    await inspector.goto(pageUrl, { timeout });
    await inspector.waitForSelector("#live.on", { timeout });
    if (scenario === "replay") await replay(context, inspector, seen);
    else if (scenario === "mock") await mock(inspector, seen);
    else if (scenario === "record") await record(context, inspector, seen);
    else throw new Error("unknown scenario " + scenario);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
}

async function replay(context, inspector, seen) {
  const other = await context.newPage();
  const served = await other.goto(process.env.SERVED_URL, { timeout });
  seen.servedStatus = served.status();
  const missed = await other.goto(process.env.MISSED_URL, { timeout });
  seen.missedStatus = missed.status();
  // Both calls appear without a reload.
  const servedRow = await inspector.waitForSelector('tr.call[data-outcome="served"]:has-text("t=100")', { timeout });
  const missRow = await inspector.waitForSelector('tr.call[data-outcome="unmatched"]:has-text("t=200")', { timeout });
  seen.rows = await inspector.$$eval("#calls tbody tr", (rows) => rows.map((r) => r.textContent));
  await shot(inspector, "calls");
  await servedRow.click();
  await inspector.waitForSelector("#detail h2 >> text=Response served: 200", { timeout });
  seen.servedBody = await inspector.$eval("#detail pre.body-text", (p) => p.textContent).catch(() => "");
  await shot(inspector, "served");
  await missRow.click();
  await inspector.waitForSelector("#detail .nearest", { timeout });
  seen.nearestEntry = await inspector.$eval("#detail .nearest", (n) => n.dataset.entry);
  seen.rule = await inspector.$eval("#detail .rule", (n) => n.textContent).catch(() => "");
  seen.differences = await inspector.$$eval("#detail .difference", (l) => l.map((n) => n.textContent));
  seen.diffCells = await inspector.$$eval("#detail td.diff", (l) => l.map((n) => n.textContent));
  await shot(inspector, "miss");
  await inspector.click("#tab-entries");
  await inspector.waitForSelector('#entries tr[data-entry="0"]', { timeout });
  await inspector.check("#unused-only");
  seen.unused = await inspector.$$eval("#entries tbody tr:not(.hidden)", (l) => l.map((r) => r.dataset.entry));
  await shot(inspector, "entries");
}

async function mock(inspector, seen) {
  const key = process.env.API_KEY;
  seen.rowsBefore = await inspector.$$eval("#calls tbody tr", (rows) => rows.length);
  seen.callStatus = await inspector.evaluate(async (key) => {
    const r = await fetch("/users/42", { headers: { "x-api-key": key } });
    return r.status;
  }, key);
  const row = await inspector.waitForSelector('tr.call[data-outcome="served"]', { timeout });
  await row.click();
  await inspector.waitForSelector("#detail h2 >> text=Response served: 200", { timeout });
  seen.servedBody = await inspector.$eval("#detail pre.body-text", (p) => p.textContent).catch(() => "");
  await shot(inspector, "served");
  await inspector.click("#tab-entries");
  await inspector.waitForSelector('#entries tr[data-entry="0"][data-uses="1"]', { timeout });
  await shot(inspector, "entries");
}

async function record(context, inspector, seen) {
  await inspector.waitForSelector("#entries-view:not(.hidden)", { timeout });
  const other = await context.newPage();
  const r = await other.goto(process.env.SERVED_URL, { timeout });
  seen.status = r.status();
  await inspector.waitForSelector("#recorded tbody tr", { timeout });
  seen.recorded = await inspector.$$eval("#recorded tbody tr", (l) => l.map((r) => r.textContent));
  await shot(inspector, "entries");
}

main().catch((err) => {
  console.error(String(err && err.stack || err));
  process.exit(1);
});
