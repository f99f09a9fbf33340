// End-to-end tests of the moderation tools: timed bans with a purge, slow mode, reports,
// invite links. A real roomcast server per test; users in separate browser contexts (and,
// where a user only needs to post, through the API).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import {
  apiUser,
  browserUsers,
  panelOf,
  createRoom,
  gql,
  launchBrowser,
  manageMember,
  messages,
  openAndJoin,
  roomIdOf,
  screenshot,
  sendMessage,
  type Server,
} from './harness';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** An API-only user who joins the room and posts `bodies` in order. */
async function apiPoster(srv: Server, username: string, roomId: string, bodies: string[]): Promise<{ token: string; id: string }> {
  const user = await apiUser(srv.url, username);
  await gql(srv.url, user.token, 'mutation($r: ID!) { joinRoom(roomId: $r) { role } }', { r: roomId });
  for (const body of bodies)
    await gql(srv.url, user.token, 'mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id } }', { r: roomId, b: body });
  return user;
}

/** Open the admin panel (if closed) on one of its tabs. */
async function openTab(page: Page, tab: RegExp | string) {
  const panel = panelOf(page);
  if (!(await panel.isVisible())) await page.getByRole('button', { name: 'Manage', exact: true }).click();
  await panel.getByRole('tab', { name: tab }).click();
  return panel;
}

describe('roomcast playground: moderation', () => {
  test('a timed ban with a purge removes the banned user\'s recent messages from open views', async (t) => {
    const { srv, pages } = await browserUsers(browser, t, 'alice', 'carol');
    const [a, c] = pages;
    await createRoom(a, 'purge-room', 'PUBLIC');
    await openAndJoin(c, 'purge-room');
    await sendMessage(c, 'carol was here');
    // bob posts through the API while carol's browser has the room open.
    await apiPoster(srv, 'bob', roomIdOf(a), ['bob spam one', 'bob spam two']);
    await messages(c, 'bob spam two').waitFor();
    await messages(a, 'bob spam two').waitFor();

    const { actions } = await manageMember(a, 'bob');
    await actions.getByRole('button', { name: 'Ban…' }).click();
    await actions.getByPlaceholder('Reason (optional)').fill('spam');
    await actions.getByLabel('Ban duration').selectOption({ label: '1 day' });
    await actions.getByLabel('Delete their messages from the last').selectOption({ label: '1 hour' });
    const bannedAt = Date.now();
    await actions.getByRole('button', { name: 'Ban bob' }).click();

    // The MessagesPurged event drops bob's messages from carol's (and alice's) open view.
    for (const page of [c, a]) {
      await messages(page, 'bob spam one').waitFor({ state: 'detached' });
      await messages(page, 'bob spam two').waitFor({ state: 'detached' });
      assert.equal(await messages(page, 'carol was here').count(), 1);
    }

    // The ban list shows when the ban ends: a day from now.
    const panel = await openTab(a, /Bans/);
    const ban = panel.getByTestId('ban').filter({ hasText: 'bob' }).filter({ hasText: 'spam' });
    const expiry = ban.getByTestId('ban-expiry');
    await expiry.getByText(/^Until /).waitFor();
    const expiresAt = Date.parse((await expiry.locator('time').getAttribute('datetime'))!);
    assert.ok(Math.abs(expiresAt - (bannedAt + 86_400_000)) < 120_000, `ban ends a day after ${new Date(bannedAt).toISOString()}, not ${new Date(expiresAt).toISOString()}`);

    // ...and the audit log says what happened, in words.
    const log = await openTab(a, 'Audit log');
    await log.getByTestId('log-entry').filter({ hasText: 'alice banned bob: spam' }).waitFor();
    await log.getByTestId('log-entry').filter({ hasText: 'alice deleted 2 messages by bob' }).waitFor();
    await screenshot(c, '10-ban-purge-carol');
    await openTab(a, /Bans/);
    await screenshot(a, '10-ban-purge-alice');
  });

  test('slow mode refuses a second message with a live countdown', async (t) => {
    const { pages } = await browserUsers(browser, t, 'alice', 'bob');
    const [a, b] = pages;
    await createRoom(a, 'slow-room', 'PUBLIC');
    await openAndJoin(b, 'slow-room');

    const panel = await openTab(a, 'Settings');
    await panel.getByLabel('Slow mode').selectOption({ label: '30 s' });
    await panel.getByRole('button', { name: 'Save changes' }).click();
    await panel.getByText('Room updated.').waitFor();
    // bob's view learns of it from the RoomUpdated event.
    await b.getByTestId('slow-mode-note').filter({ hasText: '30 s' }).waitFor();

    await sendMessage(b, 'first, within the rules');
    await messages(a, 'first, within the rules').waitFor();
    await sendMessage(b, 'second, too soon');
    const err = b.getByTestId('send-error');
    await err.waitFor();
    assert.equal(await err.getAttribute('data-code'), 'RATE_LIMITED');
    const text = await err.innerText();
    const m = /^Slow mode: you can send again in (\d+) s$/.exec(text.trim());
    assert.ok(m, `countdown text, got: ${text}`);
    const first = Number(m[1]);
    assert.ok(first >= 1 && first <= 30, `seconds left: ${first}`);
    await screenshot(b, '11-slow-mode-bob');
    // It counts down, and Send stays disabled meanwhile; the text is given back.
    await b.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="send-error"]')?.getAttribute('data-seconds')) < n,
      first,
      { timeout: 5000 },
    );
    assert.match(await err.innerText(), /^Slow mode: you can send again in \d+ s$/);
    assert.equal(await b.getByRole('button', { name: 'Send' }).isDisabled(), true);
    assert.equal(await b.getByRole('textbox', { name: 'Message' }).inputValue(), 'second, too soon');
    assert.equal(await messages(a, 'second, too soon').count(), 0);

    // The owner is exempt.
    await sendMessage(a, 'owner one');
    await sendMessage(a, 'owner two');
    await messages(b, 'owner two').waitFor();
    await messages(b, 'owner one').waitFor();
  });

  test('a reported message shows up live for the admin; "Resolve and delete message" removes it everywhere', async (t) => {
    const { srv, pages } = await browserUsers(browser, t, 'alice', 'bob');
    const [a, b] = pages;
    await createRoom(a, 'report-room', 'PUBLIC');
    await openAndJoin(b, 'report-room');
    await apiPoster(srv, 'carol', roomIdOf(a), ['buy cheap followers now', 'a fine message']);
    await messages(a, 'a fine message').waitFor();
    await messages(b, 'a fine message').waitFor();

    // alice has the Reports tab open before anything is reported.
    const panel = await openTab(a, 'Reports');
    await panel.getByText('No open reports.').waitFor();

    // bob reports carol's message.
    const bad = messages(b, 'buy cheap followers now');
    await bad.hover();
    await bad.getByRole('button', { name: 'Report message' }).click();
    const dialog = b.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('spam link');
    await dialog.getByRole('button', { name: 'Send report' }).click();
    await dialog.waitFor({ state: 'detached' });
    await b.getByTestId('room-notice').filter({ hasText: 'admins will look at your report' }).waitFor();

    // It arrives in alice's open tab (MessageReported), with message, reporter and reason.
    const report = panel.getByTestId('report').filter({ hasText: 'spam link' });
    await report.waitFor();
    await report.getByTestId('reported-message').filter({ hasText: 'buy cheap followers now' }).waitFor();
    assert.equal(await report.getByTestId('reporter').innerText(), 'bob');
    await report.getByText('reported a message by carol').waitFor();
    await screenshot(a, '12-report-alice');

    await report.getByRole('button', { name: 'Resolve and delete message' }).click();
    await report.waitFor({ state: 'detached' });
    await panel.getByText('No open reports.').waitFor();
    for (const page of [a, b]) {
      await messages(page, 'buy cheap followers now').waitFor({ state: 'detached' });
      assert.equal(await messages(page, 'a fine message').count(), 1);
    }
    await screenshot(b, '12-report-bob');
  });

  test('an invite link admits a user to a private room', async (t) => {
    const { srv, pages } = await browserUsers(browser, t, 'alice', 'bob');
    const [a, b] = pages;
    await createRoom(a, 'hideout', 'PRIVATE', 'Secret plans');
    await a.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });

    const panel = await openTab(a, 'Invites');
    await panel.getByLabel('Max uses').fill('5');
    await panel.getByLabel('Expires after').selectOption({ label: '1 day' });
    await panel.getByRole('button', { name: 'Create invite link' }).click();
    const invite = panel.getByTestId('invite').first();
    await invite.getByTestId('invite-uses').filter({ hasText: 'Used 0 of 5 times' }).waitFor();
    await invite.getByRole('button', { name: 'Copy link' }).click();
    await invite.getByText('Link copied').waitFor();
    const link = await a.evaluate(() => navigator.clipboard.readText());
    assert.equal(link, await invite.getByTestId('invite-link').inputValue());
    assert.match(link, new RegExp(`^${srv.url}/invite/[A-Za-z0-9_-]+$`));
    await screenshot(a, '13-invite-alice');

    // A code that does not work says so.
    await b.goto(`${srv.url}/invite/not-a-real-code`);
    await b.getByTestId('invite-invalid').getByText(/does not work/).waitFor();

    // The real link: a preview of the room, then Join opens it.
    await b.goto(link);
    const preview = b.getByTestId('invite-preview');
    await preview.getByTestId('invite-room-name').filter({ hasText: 'hideout' }).waitFor();
    await preview.getByText('Secret plans').waitFor();
    await preview.getByText('Private').waitFor();
    await preview.getByText('1 member').waitFor();
    await screenshot(b, '13-invite-preview-bob');
    await preview.getByRole('button', { name: 'Join hideout' }).click();
    await b.getByTestId('room-title').filter({ hasText: 'hideout' }).waitFor();
    await sendMessage(b, 'in through the invite');
    await messages(a, 'in through the invite').waitFor();
    assert.match(new URL(b.url()).pathname, /^\/rooms\//);
    // The invite counts the use (alice's admin data is refreshed by MemberJoined).
    await invite.getByTestId('invite-uses').filter({ hasText: 'Used 1 of 5 times' }).waitFor();
    await screenshot(b, '13-invite-joined-bob');
  });
});
