// The console's Email page in a real browser: the stats compare the A/B
// versions of an email, the suppression list shows who unsubscribed and why,
// and staff re-subscribe an address or add one by hand. Run by
// tests/email_console.rs, which starts the server and sends the emails.
//   node email.cjs BASE ADMIN_TOKEN VIEWER_TOKEN SCREENSHOT_DIR
const { sizes, check, shoot, go, launch } = require('./helpers.cjs');
const [base, adminToken, , shots] = process.argv.slice(2);

(async () => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: sizes.desktop });
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(base + '/ui/signin');
    await page.getByLabel('Token').fill(adminToken);
    await go(page, page.getByRole('button', { name: 'Sign in' }));
    await go(page, page.getByRole('link', { name: 'Email' }));
    check(await page.getByRole('heading', { name: 'Email', level: 1 }).isVisible(), 'the Email page opens from the menu');
    const how = await page.locator('section').first().innerText();
    check(/welcome\s+version a/.test(how) && /welcome\s+version b/.test(how), 'the stats show both versions of the welcome');
    check(how.includes('news'), 'the stats show the news email');
    const list = await page.locator('section').nth(1).innerText();
    check(list.includes('ada@example.com') && list.includes('unsubscribed'), 'the suppression list shows who unsubscribed and why');
    check(list.includes('the address bounced'), 'a bounce says so in words');
    await page.getByText('By flow and rule').click();
    check(/signup \(email\)/.test(await page.locator('section').first().innerText()), 'the stats by rule open below');
    await shoot(page, shots, 'email');

    await go(page, page.getByRole('button', { name: 'Re-subscribe ada@example.com' }));
    check((await page.getByRole('status').innerText()).includes('ada@example.com is re-subscribed'), 're-subscribing says what it did');
    check(!(await page.locator('section').nth(1).innerText()).includes('ada@example.com'), 'the address is off the list');

    await page.getByLabel('Email address').fill('not an address');
    await page.getByLabel('Email address').evaluate((el) => { el.type = 'text'; });
    await go(page, page.getByRole('button', { name: 'Stop marketing email' }));
    check((await page.getByRole('status').innerText()).includes('is not an email address'), 'a mistyped address is refused in words');
    await page.getByLabel('Email address').fill('caller@example.com');
    await page.getByLabel('Note (optional)').fill('asked by phone');
    await go(page, page.getByRole('button', { name: 'Stop marketing email' }));
    check((await page.getByRole('status').innerText()).includes('caller@example.com is on the suppression list'), 'adding an address says what it did');
    const after = await page.locator('section').nth(1).innerText();
    check(after.includes('caller@example.com') && after.includes('asked by phone'), 'the added address is listed with its note');
    await go(page, page.getByRole('link', { name: 'caller@example.com' }));
    check((await page.getByRole('note').innerText()).includes('No marketing email goes to this address: added by staff'), "the contact's page says marketing email no longer reaches them, and why");
    await shoot(page, shots, 'contact-suppressed');
    check(errors.length === 0, 'no errors in the browser console: ' + errors.join('; '));
    await context.close();
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
