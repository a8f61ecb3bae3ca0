// The web page of `sdr serve` in a real browser: Debian's chromium, headless, driven by
// playwright-core (pinned in package-lock.json, installed by scripts/deps.sh). Run by ctest
// (web_page_test) through tests/clients/run_against_server.sh, which starts the real server on the
// tiny model:  node web_page_test.mjs SCREENSHOT_DIR http://127.0.0.1:PORT
// The browser is $SDR_CHROMIUM (default: chromium on PATH). Exits non-zero on any failure; saves
// desktop (1280 px) and phone (360 px) screenshots in SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [shotDir, url] = process.argv.slice(2);
assert.ok(shotDir && url, 'usage: node web_page_test.mjs SCREENSHOT_DIR http://HOST:PORT');
mkdirSync(shotDir, { recursive: true });

const T = 60_000;  // generous: a loaded 2-core CI machine
const step = (what) => console.log(`- ${what}`);

// The tEXt / iTXt chunks of a PNG, by keyword.
function pngTextChunks(buf) {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const out = {};
  for (let at = 8; at + 8 <= buf.length;) {
    const len = buf.readUInt32BE(at);
    const type = buf.subarray(at + 4, at + 8).toString('latin1');
    const data = buf.subarray(at + 8, at + 8 + len);
    if (type === 'tEXt' || type === 'iTXt') {
      const nul = data.indexOf(0);
      const key = data.subarray(0, nul).toString('latin1');
      let text = data.subarray(nul + 1);
      if (type === 'iTXt') {  // compression flag, method, language\0, translated keyword\0, text
        assert.equal(text[0], 0, 'iTXt uncompressed');
        text = text.subarray(2);
        text = text.subarray(text.indexOf(0) + 1);
        text = text.subarray(text.indexOf(0) + 1);
        out[key] = text.toString('utf8');
      } else {
        out[key] = text.toString('latin1');
      }
    }
    if (type === 'IEND') break;
    at += 12 + len;
  }
  return out;
}

// Records, in the page, every value the job cards' progress bars take, every status text, and
// every preview image source (a MutationObserver sees each change, even several in one task).
async function recordJobCards(page) {
  await page.evaluate(() => {
    window.__seen = { bar: [], status: [], preview: 0 };
    new MutationObserver((records) => {
      for (const r of records) {
        const t = r.target;
        if (r.type === 'attributes' && t.classList?.contains('job-bar') && t.hasAttribute('value')) {
          window.__seen.bar.push(Number(t.getAttribute('value')));
        } else if (r.type === 'attributes' && t.classList?.contains('job-preview') && t.src.startsWith('data:image/png')) {
          window.__seen.preview++;
        } else if (r.type === 'childList' && t.classList?.contains('job-status')) {
          for (const n of r.addedNodes) window.__seen.status.push(n.textContent);
        }
      }
    }).observe(document.querySelector('#jobs'), { subtree: true, childList: true, attributes: true,
                                                 attributeFilter: ['value', 'src'] });
  });
}

// With SDR_WEB_TEST_KEY (the server runs with --api-key): the page asks for the key on the first
// 401, then calls the API with it, and keeps it for the tab (a reload asks no more).
async function apiKeyFlow(page, key) {
  step('a server with an API key: the page asks for it once');
  await page.goto(url);
  const dialog = page.locator('#key-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await page.locator('#key-reason').textContent(), /API key/);
  await page.fill('#key-input', key);
  await dialog.locator('button[value="ok"]').click();
  await page.waitForFunction(() => document.querySelectorAll('#sampler option').length > 1);
  await page.fill('#prompt', 'a key-holding lighthouse');
  await page.selectOption('#size', 'custom');
  await page.fill('#width', '64');
  await page.fill('#height', '64');
  await page.click('#generate');
  await page.locator('#gallery figure.result').first().waitFor();
  step('reloaded: the key is kept in sessionStorage, no second question');
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('#sampler option').length > 1);
  assert.equal(await dialog.isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('sdr.apiKey')), key);
}

const launchArgs = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--no-sandbox'] : [];
const browser = await chromium.launch({
  executablePath: process.env.SDR_CHROMIUM || 'chromium', headless: true, args: launchArgs, timeout: T,
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {  // the browser's own line for each 4xx we provoke is expected
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text());
  });

  if (process.env.SDR_WEB_TEST_KEY) {
    await apiKeyFlow(page, process.env.SDR_WEB_TEST_KEY);
  } else {
    step('the page and its assets load from the server, with the form built from /v1/capabilities');
    const res = await page.goto(url);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    await page.waitForFunction(() => document.querySelectorAll('#sampler option').length > 1);
    assert.ok(await page.locator('#scheduler option').count() > 1, 'schedules listed');
    for (const id of ['prompt', 'negative_prompt', 'width', 'height', 'steps', 'cfg_scale', 'sampler', 'scheduler', 'seed', 'n']) {
      assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `#${id} has a label`);
    }

    step('a validation error from the server is shown next to the form');
    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dusk');
    await page.selectOption('#size', 'custom');
    await page.fill('#width', '100');
    await page.fill('#height', '64');
    await page.click('#generate');
    await page.locator('#form-error').waitFor({ state: 'visible' });
    const errorText = await page.locator('#form-error').textContent();
    assert.match(errorText, /width/, `the server's message names the field: ${errorText}`);
    assert.equal(await page.locator('#jobs .job').count(), 0, 'no job started');

    step('the form stays usable: fixed, submitted with Ctrl+Enter; progress, preview, then the image');
    // Long enough (seconds on the tiny model) for several step events and a preview to arrive.
    await page.fill('#width', '128');
    await page.fill('#height', '128');
    await page.fill('#steps', '20');
    await page.fill('#negative_prompt', 'fog');
    await recordJobCards(page);
    await page.locator('#prompt').press('Control+Enter');
    const figure = page.locator('#gallery figure.result').first();
    await figure.waitFor();
    assert.equal(await page.locator('#form-error').isVisible(), false, 'the error went away');
    const seen = await page.evaluate(() => window.__seen);
    const fractions = [...new Set(seen.bar)].filter((v) => v > 0);
    assert.ok(fractions.length >= 2, `the bar moved with the step events: ${seen.bar}`);
    assert.ok(fractions.some((v) => v < 1), `the bar showed partial progress: ${seen.bar}`);
    assert.ok(seen.status.some((s) => /step \d+\/20/.test(s)), `step k/n shown: ${seen.status}`);
    assert.ok(seen.preview >= 1, 'a live latent preview was shown');

    step('the result shows its infotext');
    await figure.locator('img.result-image').evaluate((img) => img.decode());
    assert.equal(await figure.locator('img.result-image').evaluate((img) => img.naturalWidth), 128);
    const seed = await figure.getAttribute('data-seed');
    assert.match(seed, /^\d+$/);
    const facts = await figure.locator('dl.result-facts').textContent();
    for (const want of ['a lighthouse at dusk', seed, '128 × 128', 'Model hash', 'Time', 'Steps']) {
      assert.ok(facts.includes(want), `infotext shows ${want}: ${facts}`);
    }
    const infotext = await figure.locator('pre.result-infotext').textContent();
    assert.match(infotext, /Negative prompt: fog/);
    assert.match(infotext, new RegExp(`Seed: ${seed}\\b`));

    step('the PNG downloads with its parameters chunk intact');
    const [download] = await Promise.all([page.waitForEvent('download'), figure.locator('a.download').click()]);
    const png = readFileSync(await download.path());
    const chunks = pngTextChunks(png);
    assert.ok(chunks.parameters, `a parameters chunk: ${Object.keys(chunks)}`);
    assert.equal(chunks.parameters, infotext, 'the downloaded PNG carries the infotext shown');
    assert.match(download.suggestedFilename(), /\.png$/);

    step('reuse last seed, send to form');
    await page.click('#seed-reuse');
    assert.equal(await page.inputValue('#seed'), seed);
    assert.equal(await page.isChecked('#seed-random'), false);
    await page.fill('#prompt', 'something else');
    await figure.locator('button.send').click();
    assert.equal(await page.inputValue('#prompt'), 'a lighthouse at dusk');
    assert.equal(await page.inputValue('#steps'), '20');

    step('a generation the server projects past its timeout fails with its message shown');
    await page.check('#seed-random');
    await page.fill('#steps', '150');
    await page.fill('#n', '8');
    await page.selectOption('#size', 'custom');
    await page.fill('#width', '768');
    await page.fill('#height', '768');
    await page.click('#generate');
    await page.locator('#jobs .job[data-state="failed"]').waitFor();
    await page.locator('#form-error', { hasText: /timeout/ }).waitFor();
    await page.locator('#jobs .job[data-state="failed"] button.cancel').click();  // Dismiss

    step('a long job is cancelled while it runs');
    await page.fill('#prompt', 'a very long job');
    await page.fill('#n', '1');
    await page.fill('#width', '128');
    await page.fill('#height', '128');
    await page.click('#generate');
    assert.equal(await page.locator('#form-error').isVisible(), false, 'a new job clears the error');
    const job = page.locator('#jobs .job').first();
    await job.locator('.job-status', { hasText: /step \d+\/150/ }).waitFor();
    await page.screenshot({ path: join(shotDir, 'desktop-running.png'), fullPage: true });
    await job.locator('button.cancel').click();
    await page.locator('#jobs .job[data-state="cancelled"]').waitFor();
    assert.match(await job.locator('.job-status').textContent(), /Cancelled/);
    assert.equal(await page.locator('#gallery figure.result').count(), 1, 'nothing added by the cancelled job');

    step('screenshots: desktop 1280 px and phone 360 px');
    await page.fill('#prompt', 'a lighthouse at dusk, oil painting');
    await page.screenshot({ path: join(shotDir, 'desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 360, height: 780 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling at 360 px (overflow ${overflow} px)`);
    await page.screenshot({ path: join(shotDir, 'phone-360.png'), fullPage: true });
  }
  assert.deepEqual(pageErrors, [], 'no errors in the page');
  console.log(process.env.SDR_WEB_TEST_KEY ? 'ok: API key asked once, kept for the tab' : `ok: screenshots in ${shotDir}`);
} finally {
  await browser.close();
}
