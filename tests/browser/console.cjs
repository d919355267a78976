// The console in a real browser (Debian's chromium, driven by playwright-core),
// as an office manager would use it. Run by tests/console_browser.rs, which
// starts the server and posts the events this script looks for.
//   node console.cjs BASE ADMIN_TOKEN VIEWER_TOKEN SCREENSHOT_DIR
const { sizes, check, shoot, go, launch } = require('./helpers.cjs');
const [base, adminToken, viewerToken, shots] = process.argv.slice(2);

async function signIn(browser, token) {
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await context.newPage();
  page.on('dialog', () => { throw new Error('a script from an event ran (a dialog opened)'); });
  const cspErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') cspErrors.push(m.text()); });
  await page.goto(base + '/ui/');
  check(page.url().endsWith('/ui/signin'), 'a visitor without a session is sent to sign in');
  await shoot(page, shots, 'signin');
  await page.getByLabel('Token').fill(token);
  await go(page, page.getByRole('button', { name: 'Sign in' }));
  return { context, page, cspErrors };
}

(async () => {
  const browser = await launch();
  try {
    // A wrong token is refused in words.
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(base + '/ui/signin');
      await page.getByLabel('Token').fill('not-the-token');
      await go(page, page.getByRole('button', { name: 'Sign in' }));
      check((await page.getByRole('alert').innerText()).includes('not the admin token'), 'a wrong token is refused with a reason');
      await context.close();
    }

    const { page, cspErrors } = await signIn(browser, adminToken);
    check(await page.getByRole('heading', { name: 'Overview' }).isVisible(), 'the admin token signs in to the overview');
    check((await page.locator('main').innerText()).includes('Due now'), 'the overview shows the queue');
    await shoot(page, shots, 'overview');

    // Events: the lead posted by the test, and its contact's name shown as text.
    await go(page, page.getByRole('link', { name: 'Events' }));
    const row = page.locator('tr', { hasText: 'nameless@example.org' });
    check(await row.count() > 0, 'the posted webhook is listed in Events');
    await shoot(page, shots, 'events');
    await page.getByLabel('Received from').fill('2000-01-01');
    await go(page, page.getByRole('button', { name: 'Show' }));
    check(await page.locator('tr', { hasText: 'nameless@example.org' }).count() > 0, 'Events filter by the day received');
    await page.getByLabel('Received from').fill('');
    await page.getByLabel('Contact').fill('script@example.org');
    await go(page, page.getByRole('button', { name: 'Show' }));
    check((await page.locator('tbody tr').count()) === 1, 'Events filter by contact');
    await page.getByLabel('Contact').fill('');
    await page.getByLabel('Contains').fill('NAMELESS@');
    await go(page, page.getByRole('button', { name: 'Show' }));
    check((await page.locator('tbody tr').count()) === 1 && (await page.locator('tbody tr', { hasText: 'nameless@example.org' }).count()) === 1, 'Events search the fields, case aside');
    await page.getByLabel('Contains').fill('');
    await page.getByLabel('Contact').fill('script@example.org');
    await go(page, page.getByRole('button', { name: 'Show' }));
    await go(page, page.locator('tbody tr a').first());
    const main = await page.locator('main').innerText();
    check(main.includes('<script>alert(1)</script>'), 'a first name of <script> is shown as text');
    check(/✗ contact types contains any of .*: no, it is Business Contact/.test(main), 'a condition that failed shows ✗ with the value it saw');
    check(main.includes('✓'), 'a condition that held shows ✓');
    check(main.includes('typeform-signature') && main.includes('(hidden: it authenticates the request)') && !main.includes('sha256='), 'the kept headers are shown, the signature hidden');
    await shoot(page, shots, 'event');

    // Cancel a follow-up from the event page.
    const waiting = page.locator('article.action.queued').first();
    const title = await waiting.locator('h3').innerText();
    await go(page, waiting.getByRole('button', { name: 'Cancel' }));
    check((await page.getByRole('status').innerText()).includes('Cancelled'), 'a follow-up is cancelled: ' + title.trim());

    // The contact's page: workflows with their history, what's coming, events.
    await page.goto(base + '/ui/contacts/script%40example.org');
    const person = await page.locator('main').innerText();
    check(person.includes('lead_nurture') && person.includes('started in new'), "a contact's page shows their workflow and its history");
    check(person.includes('Coming up') && /Email/.test(person), "and what is coming up for them");
    await shoot(page, shots, 'contact');

    // The rules in words.
    await go(page, page.getByRole('link', { name: 'Rules', exact: true }));
    const rulesText = await page.locator('main').innerText();
    check(/When typeform form_response.* arrives for a contact routed to The 7 Space and email is not empty: tell gallery-curator/.test(rulesText) && rulesText.includes('Review the portfolio of [first name] [last name] or [email]'), 'the rules read as sentences');
    check(rulesText.includes('Which business a contact belongs to') && rulesText.includes('AM Consulting'), 'the entity routing is a table');
    check(/artist_discovery rules\/flows\/contact_workflows\.toml:\d+/.test(rulesText), 'each rule says the file and line it is written at');
    check(/overdue_tasks[\s\S]*daily at 08:00 \(America\/New_York\)[\s\S]*08:00 E[SD]T/.test(rulesText), 'schedules show when they fire next, on New York\'s clock');
    check(/Send windows: when people hear from us[\s\S]*business_hours[\s\S]*Mon-Fri 09:00-17:00, America\/New_York time[\s\S]*(Open now|opens)[\s\S]*Closed dates are listed up to/.test(rulesText), 'send windows say their hours, whether they are open, and their closed days');
    await shoot(page, shots, 'rules');

    // Try an event: an example through the rules, nothing stored.
    await go(page, page.getByRole('link', { name: 'Try an event' }));
    await page.getByLabel('Start from an example').selectOption('typeform_artist.json');
    await go(page, page.getByRole('button', { name: 'Use it' }));
    check((await page.getByLabel('Source', { exact: true }).inputValue()) === 'typeform', 'an example fills in its source and body');
    await go(page, page.getByRole('button', { name: 'Show what would happen' }));
    const plannedText = await page.locator('main').innerText();
    check(plannedText.includes('would run') && plannedText.includes('artist_discovery: fired'), 'Try shows the plan and why, like an event page');
    await shoot(page, shots, 'try');
    await page.getByLabel('Source', { exact: true }).selectOption('woocommerce');
    await go(page, page.getByRole('button', { name: 'Show what would happen' }));
    check((await page.locator('main').innerText()).includes('hsflow would refuse this request'), 'a body its source refuses is explained');

    // Follow-ups: what is scheduled, for one contact; one of them run now.
    await page.goto(base + '/ui/followups?contact=script%40example.org');
    const scheduled = page.locator('tbody tr');
    const before = await scheduled.count();
    check(before > 0 && (await scheduled.first().innerText()).includes('script@example.org'), 'Follow-ups lists what is scheduled for a contact');
    await shoot(page, shots, 'followups');
    await go(page, scheduled.first().getByRole('button', { name: 'Run now' }));
    check((await page.getByRole('status').innerText()).includes('runs now'), 'a follow-up is run now');
    check(await page.locator('tbody tr').count() === before - 1, 'and leaves the list of what is scheduled');

    // Failed: the notification whose endpoint refuses; retried from the page.
    await page.goto(base + '/ui/failed');
    const group = page.locator('section.group').first();
    check(await group.count() === 1 && (await group.innerText()).includes('could not connect'), 'a failing sink is listed with its error in words');
    await shoot(page, shots, 'failed');
    await go(page, group.getByRole('button', { name: 'Retry' }).first());
    check((await page.getByRole('status').innerText()).includes('run again'), 'a parked action is retried from Failed');

    // A change without the form's CSRF token is refused.
    const forged = await page.request.post(base + '/ui/actions/none/retry', { form: { back: '/ui/failed' }, maxRedirects: 0 });
    check(forged.status() === 403, 'a POST without the CSRF token is refused (403)');
    check(cspErrors.length === 0, 'no Content-Security-Policy errors: ' + cspErrors.join('; '));

    // A viewer sees, and can't change.
    const viewer = await signIn(browser, viewerToken);
    await viewer.page.goto(base + '/ui/failed');
    check(await viewer.page.getByRole('button', { name: 'Retry' }).count() === 0, 'a viewer sees no Retry button');
    const csrf = await viewer.page.locator('input[name=csrf]').first().inputValue();
    const tried = await viewer.page.request.post(base + '/ui/actions/none/retry', { form: { csrf }, maxRedirects: 0 });
    check(tried.status() === 403, 'a viewer who posts a retry anyway is refused (403)');
    await go(viewer.page, viewer.page.getByRole('button', { name: 'Sign out' }));
    check(viewer.page.url().endsWith('/ui/signin'), 'sign-out ends the session');
    await viewer.page.goto(base + '/ui/events');
    check(viewer.page.url().endsWith('/ui/signin'), 'after sign-out the pages need signing in again');
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message || e); process.exit(1); });
