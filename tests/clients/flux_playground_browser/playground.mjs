// Drives the web playground in Debian's headless Chromium through puppeteer-core: a job on
// the demo model shows its progress, a preview and the image with its seed; a second, long
// job is cancelled from its button; the session's history lists both. Saves a screenshot to
// argv[2]. FLUX_BASE_URL is the server (http://127.0.0.1:PORT).
import puppeteer from 'puppeteer-core';
import assert from 'node:assert/strict';

const base = process.env.FLUX_BASE_URL;
const screenshot = process.argv[2];
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

async function submit(page, { size, steps, seed }) {
  for (const [id, value] of [['size', size], ['steps', String(steps)], ['seed', String(seed)]]) {
    await page.$eval(`#${id}`, (input, v) => { input.value = v; }, value);
  }
  const previous = await page.$eval('#current', (section) => section.dataset.job || '');
  await page.click('#generate');
  // A new job is being followed once the section names a job id we have not seen.
  const handle = await page.waitForFunction(
    (before) => {
      const job = document.getElementById('current').dataset.job;
      return job && job !== before ? job : false;
    },
    { timeout: 30000 },
    previous,
  );
  return handle.jsonValue();
}

try {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('#model option[value="demo"]'));

  // 1. A job runs to its end: progress events, a preview, the image and its seed.
  const first = await submit(page, { size: '64x64', steps: 6, seed: 7 });
  await page.waitForFunction(() => document.getElementById('current').dataset.step === '6',
                             { timeout: 60000 });
  await page.waitForFunction(() => document.getElementById('preview').src.startsWith('data:image/png'));
  await page.waitForFunction(() => document.getElementById('result').src.startsWith('data:image/png'),
                             { timeout: 60000 });
  await page.waitForFunction(() => document.getElementById('current').dataset.status === 'succeeded');
  const details = JSON.parse(await page.$eval('#details', (pre) => pre.textContent));
  assert.equal(details.seed, 7);
  assert.equal(details.parameters.steps, 6);
  assert.ok(details.timings.total_s > 0);
  assert.ok(await page.$eval('#progress', (bar) => bar.value === bar.max && bar.max === 6));
  await page.screenshot({ path: screenshot, fullPage: true });

  // 2. A long job is cancelled from its button and stops early.
  const second = await submit(page, { size: '128x128', steps: 1000, seed: 8 });
  await page.waitForFunction(() => Number(document.getElementById('current').dataset.step) >= 1,
                             { timeout: 60000 });
  await page.click('#cancel');
  await page.waitForFunction(() => document.getElementById('current').dataset.status === 'cancelled',
                             { timeout: 30000 });
  const stoppedAt = Number(await page.$eval('#current', (section) => section.dataset.step));
  assert.ok(stoppedAt < 1000, `cancelled at step ${stoppedAt}`);

  // 3. The session's history lists both, newest first.
  await page.waitForFunction(() => document.querySelectorAll('#history li').length === 2);
  const history = await page.$$eval('#history li', (items) => items.map((li) => [li.textContent, li.dataset.status]));
  assert.deepEqual(history.map(([, status]) => status), ['cancelled', 'succeeded']);
  assert.ok(history[0][0].startsWith(second) && history[1][0].startsWith(first), JSON.stringify(history));
  assert.deepEqual(problems, [], 'no script errors in the page');
  console.log(`playground: job ${first} succeeded, job ${second} cancelled at step ${stoppedAt}; screenshot ${screenshot}`);
} finally {
  await browser.close();
}
