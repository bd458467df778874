// SPDX-License-Identifier: MIT
// Drives the system Chromium through the public page as a person would: the lookup form, the
// review link, the review form, the request's page. Prints one JSON object of what was shown.
// usage: node browser.js PUB_URL IP [SHOTS_DIR]
const puppeteer = require('puppeteer-core');

(async () => {
  const [url, ip, shots] = process.argv.slice(2);
  const out = { console_errors: [] };
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 900, height: 900 });
    // A CSP violation (an inline script or style the page would need) shows up here.
    page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
    page.on('pageerror', (e) => out.console_errors.push(String(e)));
    const text = async (sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => null);

    await page.goto(url + '/', { waitUntil: 'load' });
    await page.type('#ip', ip);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form.lookup button')]);
    out.lookup_url = page.url();
    out.status = await text('#status');
    out.ttd = await text('#ttd');
    out.since = await text('#since');
    out.reason = await text('#reason');
    out.styled = await page.$eval('#result', (e) => getComputedStyle(e).borderLeftWidth);
    if (shots) await page.screenshot({ path: shots + '/public-lookup.png', fullPage: true });

    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#review-link')]);
    out.form_ip = await page.$eval('#ip', (e) => e.value);
    await page.select('#category', 'user-error');
    await page.type('#email', 'abuse@example.net');
    await page.type('#name', 'Dana Operator');
    await page.type('#title', 'Mail administrator');
    await page.type('#relationship', 'We operate the mail servers in this network.');
    await page.type('#reason', 'A subscriber reported our confirmed newsletter <b>as spam</b>.');
    await page.type('#documentation', 'Double opt-in confirmed on 2026-11-02 from 198.51.100.7.');
    if (shots) await page.screenshot({ path: shots + '/public-review-form.png', fullPage: true });
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#send')]);
    out.filed = await text('#filed h2');
    out.status_href = await page.$eval('#status-link', (e) => e.getAttribute('href')).catch(() => null);
    if (out.status_href) {
      await page.goto(url + out.status_href, { waitUntil: 'load' });
      out.state = await text('#state');
      out.req_ip = await text('#req-ip');
      if (shots) await page.screenshot({ path: shots + '/public-review-status.png', fullPage: true });
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error('browser: ' + (e && e.stack || e)); process.exit(1); });
