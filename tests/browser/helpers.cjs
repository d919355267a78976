// What the browser tests share: a check that says what it proved, the page
// sizes and screenshots at each, following a click to the page it loads, and
// Debian's chromium launched the way these machines allow.
const { chromium } = require('playwright-core');

const sizes = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

function check(ok, what) {
  if (!ok) throw new Error('FAILED: ' + what);
  console.log('ok   ' + what);
}

// A full-page screenshot at each size: SHOTS/NAME-desktop.png, NAME-phone.png.
async function shoot(page, shots, name) {
  for (const [label, size] of Object.entries(sizes)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: `${shots}/${name}-${label}.png`, fullPage: true });
  }
  await page.setViewportSize(sizes.desktop);
}

// Every link and button in the console loads a new page (forms post, then
// redirect). Wait for that page before reading it, or a check may read the old one.
async function go(page, target) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), target.click()]);
}

function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

module.exports = { sizes, check, shoot, go, launch };
