// The board in a real browser (Debian's chromium driven by playwright-core),
// run by tests/e2e/board.sh while the demo's replay runs:
//
//   node board.mjs <board URL> <dir>
//
// 1. Opens the board and, without reloading, notes what it shows every
//    0.5 s until <dir>/demo.done appears (the replay is over).
// 2. Waits up to 30 s for the page's figures per unit to equal
//    <dir>/expected.json ({"units": {code: {open, due_today, late}},
//    "rates": {code: on_time_rate}}, written by the test from the database).
// 3. Looks up <dir>/expected.json's "lookup" dossier with the form.
// 4. Saves <dir>/board.png (desktop) and <dir>/board-phone.png (390x844).
// Writes <dir>/result.json; exits 0 when it could run all of it (the test
// judges the result).
import { chromium } from "playwright-core";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [url, dir] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const result = { seen: [], errors: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"], // the tests run as root
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "vi-VN" });
  page.on("pageerror", (e) => result.errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") result.errors.push(m.text()); });
  await page.goto(url);

  // 1. Live, while the replay runs.
  while (!existsSync(`${dir}/demo.done`)) {
    result.seen.push({
      updated: await page.textContent("#updated"),
      open: await page.textContent("#total-open"),
      late: await page.textContent("#total-late"),
    });
    await sleep(500);
  }
  const expected = JSON.parse(readFileSync(`${dir}/expected.json`, "utf8"));

  // 2. The figures settle on the database's.
  const pageUnits = () => page.$$eval("#units tbody tr", (rows) => Object.fromEntries(rows.map((r) => [
    r.dataset.unit,
    Object.fromEntries([...r.querySelectorAll("td[data-field]")].map((td) => [td.dataset.field, td.textContent])),
  ])));
  const want = (code) => ({
    open: String(expected.units[code]?.open ?? 0),
    due_today: String(expected.units[code]?.due_today ?? 0),
    late: String(expected.units[code]?.late ?? 0),
    on_time_rate: expected.rates[code] === null || expected.rates[code] === undefined
      ? "–" : `${(expected.rates[code] * 100).toFixed(1).replace(".", ",")}%`,
  });
  const differences = (units) => {
    const diffs = [];
    for (const code of new Set([...Object.keys(units), ...Object.keys(expected.units)])) {
      const got = units[code], w = want(code);
      if (!got) { diffs.push(`${code}: not on the page`); continue; }
      for (const k of Object.keys(w))
        if (got[k] !== w[k]) diffs.push(`${code}.${k}: page ${got[k]}, database ${w[k]}`);
    }
    return diffs;
  };
  let diffs = [];
  for (let i = 0; i < 60; i++) {
    diffs = differences(await pageUnits());
    if (diffs.length === 0) break;
    await sleep(500);
  }
  result.units_compared = Object.keys(await pageUnits()).length;
  result.differences = diffs;
  result.totals = {
    open: await page.textContent("#total-open"),
    late: await page.textContent("#total-late"),
    rate: await page.textContent("#total-rate"),
    late_rows: await page.$$eval("#late tbody tr[data-code]", (rows) => rows.length),
    trend_bars: await page.$$eval("#trend rect", (r) => r.length),
  };

  // 3. The lookup form.
  await page.fill("input[name=code]", expected.lookup.code);
  await page.fill("input[name=id_number]", expected.lookup.id_number);
  await page.click("#lookup button");
  await page.waitForSelector("[data-testid=lookup-code]", { timeout: 10000 });
  result.lookup = {
    code: await page.textContent("[data-testid=lookup-code]"),
    state: await page.textContent("[data-testid=lookup-state]"),
    steps: await page.$$eval("#lookup-result .timeline li", (li) => li.length),
  };

  // 4. Screenshots: a wall screen and a phone.
  await page.screenshot({ path: `${dir}/board.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(300);
  result.phone_overflow = await page.evaluate(
    () => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.screenshot({ path: `${dir}/board-phone.png`, fullPage: true });
} catch (e) {
  result.errors.push(String(e.stack ?? e));
} finally {
  await browser.close();
  writeFileSync(`${dir}/result.json`, JSON.stringify(result, null, 1));
}
