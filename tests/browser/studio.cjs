// The rule studio in a real browser (Debian's chromium, driven by
// playwright-core). Run by tests/studio_browser.rs, which starts the server
// on a copy of the shipped rules in PROJECT and posts three leads.
//   node studio.cjs BASE ADMIN_TOKEN VIEWER_TOKEN SCREENSHOT_DIR PROJECT DATA
const fs = require('fs');
const path = require('path');
const { sizes, check, shoot, go, launch } = require('./helpers.cjs');
const [base, adminToken, viewerToken, shots, project, data] = process.argv.slice(2);
const FLOW = 'rules/flows/contact_workflows.toml';
const onDisk = () => fs.readFileSync(path.join(project, FLOW), 'utf8');

async function signIn(browser, token, name) {
  const context = await browser.newContext({ viewport: sizes.desktop });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(base + '/ui/signin');
  await page.getByLabel('Token').fill(token);
  if (name) await page.getByLabel('Your name').fill(name);
  await go(page, page.getByRole('button', { name: 'Sign in' }));
  return { page, errors };
}

(async () => {
  const browser = await launch();
  let page;
  let errorsSeen = [];
  try {
    const signedIn = await signIn(browser, adminToken, 'Ana');
    page = signedIn.page;
    const errors = signedIn.errors;
    errorsSeen = errors;
    await go(page, page.getByRole('link', { name: 'Edit rules' }));
    await page.getByLabel('File').selectOption(FLOW);
    await go(page, page.getByRole('button', { name: 'Open' }));
    // The code editor (CodeMirror) over the form's text area.
    await page.locator('.CodeMirror').waitFor();
    const getText = () => page.evaluate(() => window.hsflowEditor.getValue());
    const setText = (t) => page.evaluate((v) => window.hsflowEditor.setValue(v), t);
    const shipped = await getText();
    check(shipped.includes('template = "artist_welcome"\ndelay = "24h"'), 'a rule file opens in the code editor');
    check(await page.locator('.CodeMirror .cm-keyword, .CodeMirror .cm-string').count() > 10, 'with TOML highlighting');

    // Completion from the schema: a key inside an email action, a value of priority.
    await page.locator('textarea#text[data-schema=loaded]').waitFor({ state: 'attached', timeout: 10000 });
    const emailLine = shipped.split('\n').findIndex((l) => l === 'template = "artist_welcome"');
    await page.evaluate((n) => { const e = window.hsflowEditor; e.focus(); e.setCursor({ line: n, ch: 1e6 }); }, emailLine);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+Space');
    const hints = page.locator('.CodeMirror-hints');
    await hints.waitFor({ timeout: 5000 });
    const offered = (await hints.innerText()).split('\n').map((l) => l.split(' ')[0]);
    check(offered.includes('to') && offered.includes('entity') && !offered.includes('channel') && !offered.includes('database') && !offered.includes('delay'),
      'Ctrl-Space in an email action offers the keys it can still take, not those of other kinds: ' + offered.join(' '));
    await page.keyboard.press('Escape');
    await page.keyboard.type('e');
    await hints.waitFor({ timeout: 5000 });
    check((await hints.innerText()).startsWith('entity'), 'typing a key offers the keys that start so');
    await page.keyboard.press('Escape');
    await setText(shipped);
    const taskLine = shipped.split('\n').findIndex((l) => l === 'priority = "high"');
    await page.evaluate((n) => { const e = window.hsflowEditor; e.focus(); e.setCursor({ line: n, ch: 12 }); e.replaceRange('', { line: n, ch: 12 }, { line: n, ch: 1e6 }); }, taskLine);
    await page.keyboard.press('Control+Space');
    await hints.waitFor({ timeout: 5000 });
    const values = await hints.innerText();
    check(values.includes('"high"') && values.includes('"low"'), 'Ctrl-Space after priority = " offers its values: ' + values.split('\n').join(' | '));
    await page.keyboard.press('Escape');
    await setText(shipped);
    const versionBefore = await page.locator('.lede code').innerText();

    // An invalid edit: lint says where as you type, and Save refuses it.
    const broken = shipped.replace('template = "artist_welcome"\ndelay = "24h"', 'template = "artist_welcome"\ndelay = "tomorrow"');
    const line = broken.split('\n').findIndex((l) => l === 'delay = "tomorrow"') + 1;
    await setText(broken);
    const finding = page.locator('#findings .findings-list li', { hasText: `${FLOW}:${line}:` });
    await finding.first().waitFor({ timeout: 10000 });
    check((await finding.first().innerText()).includes('error'), `lint as you type shows the finding at ${FLOW}:${line}`);
    // The editor draws only the lines in view: bring the finding's into view.
    await page.evaluate((n) => window.hsflowEditor.scrollIntoView({ line: n - 1, ch: 0 }, 100), line);
    await page.locator('.CodeMirror-lint-mark-error').first().waitFor({ timeout: 5000 });
    check(await page.locator('.CodeMirror-lint-marker-error').count() > 0, 'and marks it in the editor');
    await shoot(page, shots, 'studio-lint');
    await go(page, page.getByRole('button', { name: 'Save' }));
    check((await page.getByRole('alert').innerText()).includes('Not saved'), 'an invalid edit cannot be saved');
    check((await page.locator('#findings').innerText()).includes(`${FLOW}:${line}:`), 'and the refusal names the line');
    check(onDisk() === shipped, 'nothing was written');

    // A valid edit: the what-if names the changed actions.
    const edited = shipped.replace('template = "artist_welcome"\ndelay = "24h"', 'template = "artist_welcome"\ndelay = "12h"');
    await setText(edited);
    await go(page, page.getByRole('button', { name: 'Check what this would change' }));
    const whatif = await page.locator('section.whatif').innerText();
    const named = /3 events replayed: 2 would change/.test(whatif) && whatif.includes('Changed: the email “artist_welcome”') && whatif.includes('timing: after 1 day → after 12 hours');
    // The page's own text is cut off before the what-if: say what it said.
    if (!named) console.log('the what-if said: ' + whatif.slice(0, 2000));
    check(named, 'the what-if names the changed actions and their new timing');
    check(!whatif.includes('cy@example.org'), 'and only the events it changes');
    await shoot(page, shots, 'studio-whatif');
    await go(page, page.getByRole('button', { name: 'Save' }));
    const notice = await page.getByRole('status').innerText();
    const versionAfter = await page.locator('.lede code').innerText();
    check(notice.includes('Saved') && notice.includes(versionAfter) && versionAfter !== versionBefore, `saved: version ${versionAfter} is live`);
    check(onDisk() === edited, 'the file on disk is the edited one');

    // A save without a check first shows the what-if and waits for a second Save.
    const edited2 = edited.replace('priority = "high"', 'priority = "urgent"');
    await setText(edited2);
    await go(page, page.getByRole('button', { name: 'Save' }));
    check((await page.getByRole('alert').innerText()).includes('Press Save again') && await page.locator('section.whatif').count() === 1,
      'Save without a check shows what the change would do first');
    check(onDisk() === edited, 'and writes nothing yet');
    await page.evaluate((t) => window.hsflowEditor.setValue(t), edited);
    await go(page, page.getByRole('button', { name: 'Check what this would change' }));

    // History: the save, who made it, what changed; then a rollback.
    await go(page, page.getByRole('link', { name: 'History' }));
    const top = page.locator('table.versions tbody tr').first();
    const topText = await top.innerText();
    check(topText.includes(versionAfter) && topText.includes('studio') && topText.includes('Ana (console)') && topText.includes('live'),
      'History lists the new version, live, saved from the studio by Ana');
    check((await page.locator('table.audit').innerText()).includes('Ana (console)'), 'the audit log says who saved');
    await shoot(page, shots, 'history');
    await go(page, top.getByRole('link', { name: 'What changed' }));
    const diff = await page.locator('main').innerText();
    check(diff.includes(FLOW) && diff.includes('-delay = "24h"') && diff.includes('+delay = "12h"'), 'the diff shows the changed line');
    await shoot(page, shots, 'diff');
    await go(page, page.getByRole('link', { name: 'Back to History' }));
    const start = page.locator('table.versions tbody tr', { hasText: versionBefore }).first();
    await go(page, start.getByRole('button', { name: 'Roll back to this' }));
    check((await page.getByRole('status').innerText()).includes('Rolled back'), 'a rollback from History');
    check(onDisk() === shipped, 'rollback restores the previous files');
    check((await page.locator('table.versions tbody tr').first().innerText()).includes('rollback'), 'and is listed as a rollback');
    // A change that drops follow-ups people are waiting for: listed, and
    // cancelled with the save only when ticked.
    await page.goto(base + '/ui/studio?file=' + encodeURIComponent(FLOW));
    await page.locator('.CodeMirror').waitFor();
    const dropping = shipped.replace('when = [{ field = "email", is_empty = false }]\ncancel_on', 'when = [{ field = "email", equals = "nobody@example.org" }]\ncancel_on');
    check(dropping !== shipped, 'the artist workflow can be switched off in the text');
    await setText(dropping);
    await go(page, page.getByRole('button', { name: 'Check what this would change' }));
    const waiting = page.locator('ul.pending li');
    const n = await waiting.count();
    check(n >= 4 && (await page.locator('ul.pending').innerText()).includes('artist_discovery/'), `${n} waiting follow-ups the change would drop are listed`);
    await shoot(page, shots, 'studio-pending');
    for (const box of await page.locator('ul.pending input[type=checkbox]').all()) await box.check();
    await go(page, page.getByRole('button', { name: 'Save' }));
    check((await page.getByRole('status').innerText()).includes(`${n} waiting actions were cancelled`), 'the ticked ones are cancelled with the save');
    const cancelled = await page.request.get(base + '/api/actions?status=cancelled', { headers: { authorization: 'Bearer ' + adminToken } });
    check((await cancelled.json()).actions.length === n, 'and the store says so');
    await go(page, page.getByRole('link', { name: 'History' }));
    await go(page, page.locator('table.versions tbody tr', { hasText: versionBefore }).first().getByRole('button', { name: 'Roll back to this' }));
    check(onDisk() === shipped, 'rolled back again');

    // A template: previewed as the email will look, edited, sent as a test.
    // Version a of the A/B pair: previewed as that version, whichever the contact gets.
    const TEMPLATE = 'templates/emails/artist_welcome.a.html.hbs';
    await page.goto(base + '/ui/studio?file=' + encodeURIComponent(TEMPLATE));
    await page.locator('.CodeMirror').waitFor();
    const template = await getText();
    await setText(template + '\n<p>Edited in the studio</p>\n');
    await go(page, page.getByRole('button', { name: 'Check what this would change' }));
    const preview = await page.locator('section.preview').innerText();
    check(preview.includes('Rendered for') && /Subject/.test(preview) && preview.includes('artist@example.org'), 'a template is previewed with a stored event that uses it');
    const frameText = await page.frameLocator('iframe.email-frame').locator('body').innerText();
    check(frameText.includes('Edited in the studio'), 'the preview shows the edit, as the email will look');
    await shoot(page, shots, 'studio-preview');
    await page.getByLabel('Send a test to').fill('curator@example.org');
    await go(page, page.getByRole('button', { name: 'Send test' }));
    check((await page.getByRole('status').innerText()).includes('Test sent to curator@example.org'), 'a test send says where it went');
    const outbox = path.join(data, 'outbox');
    const tests = fs.readdirSync(outbox).filter((f) => f.startsWith('test-'));
    check(tests.length === 1, 'one test message in the outbox');
    const eml = fs.readFileSync(path.join(outbox, tests[0]), 'utf8');
    check(/Subject: \[TEST\]/.test(eml) && /To: curator@example.org/.test(eml), 'marked [TEST], to the address typed');
    check(fs.readFileSync(path.join(project, TEMPLATE), 'utf8') === template, 'a check or a test send writes no file');
    check(errors.length === 0, 'no script or Content-Security-Policy errors: ' + errors.join('; '));

    // A viewer can look and check, not save.
    const viewer = await signIn(browser, viewerToken);
    await viewer.page.goto(base + '/ui/studio?file=' + encodeURIComponent(FLOW));
    check(await viewer.page.getByRole('button', { name: 'Save' }).count() === 0, 'a viewer can check but sees no Save button');
    check(viewer.errors.length === 0, 'no script errors for the viewer: ' + viewer.errors.join('; '));
  } catch (e) {
    // What the page showed when a step failed, for whoever reads the failure.
    if (page) {
      await page.screenshot({ path: `${shots}/studio-failure.png`, fullPage: true }).catch(() => {});
      console.log('the page said: ' + (await page.locator('main').innerText().catch(() => '?')).slice(0, 2000));
      console.log('script errors: ' + errorsSeen.join('; '));
    }
    throw e;
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message || e); process.exit(1); });
