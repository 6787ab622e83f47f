// Chromium (Debian's, driven by playwright-core) opens PAGE_URL through HARP_PROXY; the
// page's script opens a WebSocket back to its own host, sends a message and puts the
// answer in the title. Prints {"title": ...}; exits non-zero when nothing came.
"use strict";
const { chromium } = require("playwright-core");

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--proxy-bypass-list=<-loopback>", "--disable-background-networking"],
    proxy: { server: process.env.HARP_PROXY },
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(process.env.PAGE_URL, { timeout: 15000 });
    await page.waitForFunction(() => document.title.startsWith("got:") || document.title.startsWith("error"), null, { timeout: 15000 });
    console.log(JSON.stringify({ title: await page.title() }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
