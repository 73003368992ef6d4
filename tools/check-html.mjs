// make check-html: axe-core (WCAG 2.1 A and AA rules plus best practices) on a built report page in a local
// Chromium, at desktop and phone widths, plus a horizontal-scroll check at 390 px and a click through
// internal links. Optional: needs node, `npm install axe-core playwright-core` (the Makefile installs them into
// the git-ignored .check-html/) and a Chromium (CHROMIUM=/usr/bin/chromium by default). Exit 1 on any violation.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const require = createRequire(path.resolve(process.env.CHECK_HTML_MODULES || ".check-html") + "/");
const { chromium } = require("playwright-core");
const axeSource = require("fs").readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const file = process.argv[2];
if (!file) { console.error("usage: node tools/check-html.mjs REPORT.html"); process.exit(2); }
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"] });
let failures = 0;
for (const width of [1280, 390]) {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  await page.goto(pathToFileURL(path.resolve(file)).href);
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }));
  for (const v of result.violations) {
    failures += 1;
    console.log(`${width}px ${v.id} (${v.impact}): ${v.help}; ${v.nodes.length} node(s), e.g. ${v.nodes[0].target}`);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) { failures += 1; console.log(`${width}px: the page scrolls sideways by ${overflow} px`); }
  console.log(`${width}px: ${result.violations.length} axe violation(s), ${result.passes.length} rules passed`);
  if (width === 1280) {  // click through: every internal link lands on its target
    const hrefs = await page.evaluate(() => [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute("href")));
    const missing = await page.evaluate(hs => hs.filter(h => !document.getElementById(decodeURIComponent(h.slice(1)))), hrefs);
    await page.keyboard.press("Tab");  // the skip link is the first thing a keyboard reaches
    await page.keyboard.press("Enter");
    if (await page.evaluate(() => location.hash) !== "#main") { failures += 1; console.log("the skip link does not lead to #main"); }
    for (const sample of [hrefs.find(h => h.startsWith("#claim-")), hrefs.find(h => h.startsWith("#src-")),
                          hrefs.find(h => h.startsWith("#ds-"))].filter(Boolean)) {
      await page.click(`a[href="${sample}"] >> nth=0`);
      const at = await page.evaluate(() => location.hash);
      if (at !== sample) { failures += 1; console.log(`clicking ${sample} went to ${at}`); }
    }
    if (missing.length) { failures += 1; console.log(`links without a target: ${missing.slice(0, 5)}`); }
    console.log(`${hrefs.length} internal links, all with a target: ${missing.length === 0}`);
  }
  await page.close();
}
await browser.close();
process.exit(failures ? 1 : 0);
