// End-to-end tests of the live room list and presence (alice, bob, carol): unread badges,
// bold names and previews fed by `viewerEvents` with no polling, a room's badge cleared on
// opening it, online dots and the online count from `PresenceChanged`, and the requester's
// side of a join request turned down (a notice, and the panel offers to ask again) or
// approved (the room opens as a member, live).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserUsers, createRoom, gql, messages, openAndJoin, panelOf, roomIdOf, roomItem, screenshot, sendMessage, sharedBrowser, tokenOf } from './harness';

const browser = sharedBrowser();

/** Polls `read` until it returns `want` (an API answer has no locator to wait on). */
async function until<T>(read: () => Promise<T>, want: T, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let got: T = await read();
  while (got !== want) {
    if (Date.now() > deadline) assert.fail(`${what}: wanted ${String(want)}, still ${String(got)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
    got = await read();
  }
}

/** The list has been read since the live feed began listening. */
async function listIsLive(page: Page): Promise<void> {
  await page.locator('.room-list[data-live="true"]').waitFor();
}

function badgeOf(page: Page, room: string) {
  return roomItem(page, room).getByTestId('unread-badge');
}

/** Waits until the room's badge says `n` (0: no badge at all). */
async function badgeSays(page: Page, room: string, n: number, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([name, want]) => {
      const item = document.querySelector(`[data-testid="room-item"][data-room-name="${name}"]`);
      if (!item) return false;
      const badge = item.querySelector('[data-testid="unread-badge"]');
      return want === 0 ? !badge : badge?.textContent?.trim() === String(want);
    },
    [room, n] as const,
    { timeout },
  );
}

function memberRow(page: Page, username: string) {
  return panelOf(page).locator(`[data-testid="member"][data-username="${username}"]`);
}

/** Waits until `username`'s dot in the open member panel says `state`. */
async function dotSays(page: Page, username: string, state: 'online' | 'offline', timeout = 10_000): Promise<void> {
  await memberRow(page, username).locator(`[data-testid="online-dot"][aria-label="${state}"]`).waitFor({ timeout });
}

async function onlineCountSays(page: Page, n: number, timeout = 10_000): Promise<void> {
  await page.getByTestId('online-count').and(page.locator(`[data-count="${n}"]`)).waitFor({ timeout });
  assert.equal((await page.getByTestId('online-count').innerText()).trim(), `${n} online`);
}

const JOIN = 'mutation($r: ID!) { joinRoom(roomId: $r) { role } }';

describe('roomcast playground: the live room list and presence', () => {
  test('unread badges, bold names and previews come live and clear on opening the room; the list does not poll', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'alice', 'bob', 'carol');
    const [a, b, c] = pages;
    await createRoom(a, 'news', 'PUBLIC');
    const newsId = roomIdOf(a);
    await createRoom(a, 'chat', 'PUBLIC');
    await openAndJoin(c, 'news');
    await openAndJoin(c, 'chat');
    await openAndJoin(b, 'news');
    // alice looks at "chat" (with carol there); everyone's feeds are up.
    await a.getByTestId('member-count').filter({ hasText: '2 members' }).waitFor();
    await onlineCountSays(a, 2);
    await listIsLive(a);
    await listIsLive(c);
    // The list agrees with the room header on member counts.
    await roomItem(a, 'chat').getByText('2 members').waitFor();

    // No polling: over a quiet spell alice's page asks the server nothing over HTTP.
    await a.waitForTimeout(1000);
    const requests: string[] = [];
    a.on('request', (req) => {
      if (new URL(req.url()).pathname === '/graphql' && req.method() === 'POST') requests.push(req.postData()?.slice(0, 80) ?? '');
    });
    await a.waitForTimeout(4000);
    assert.deepEqual(requests, [], 'HTTP requests by alice over a quiet 4 s');
    assert.equal(await badgeOf(a, 'news').count(), 0);

    // bob posts twice in "news" while alice and carol look at "chat".
    await sendMessage(b, 'hello from bob');
    await sendMessage(b, 'the second one, with a rather long text that the preview line of the room list has to cut short somewhere');
    await messages(b, 'hello from bob').waitFor();
    for (const page of [a, c]) {
      await badgeSays(page, 'news', 2);
      const item = roomItem(page, 'news');
      assert.match((await item.getAttribute('class')) ?? '', /\bunread\b/);
      const weight = await item.locator('.room-item-name').evaluate((el) => Number(getComputedStyle(el).fontWeight));
      assert.ok(weight >= 700, `the name is bold (${weight})`);
      const preview = (await item.getByTestId('last-message').innerText()).trim();
      assert.match(preview, /^bob: the second one, with a rather long text/);
      assert.ok(preview.endsWith('…'), `the preview is cut short: ${preview}`);
      // The activity carries the member count too (bob joined since the list was read).
      await item.getByText('3 members').waitFor();
      // The room on screen has no badge and is not bold.
      assert.equal(await badgeOf(page, 'chat').count(), 0);
      assert.doesNotMatch((await roomItem(page, 'chat').getAttribute('class')) ?? '', /\bunread\b/);
    }
    // Nothing was fetched to show it: the feed carried it.
    assert.equal(requests.filter((r) => /query Rooms\b/.test(r)).length, 0, 'no rooms query for activity');
    await screenshot(a, '23-live-list-alice');

    // alice opens "news": the badge goes at once, and the server agrees.
    await roomItem(a, 'news').click();
    await messages(a, 'hello from bob').waitFor();
    await badgeSays(a, 'news', 0, 2000);
    assert.doesNotMatch((await roomItem(a, 'news').getAttribute('class')) ?? '', /\bunread\b/);
    const alice = await tokenOf(a);
    const unread = async () =>
      (await gql<{ room: { unreadCount: number | null } }>(srv.url, alice, 'query($id: ID!) { room(id: $id) { unreadCount } }', { id: newsId })).room.unreadCount;
    await until(unread, 0, "alice's unread count in news");
    // carol still has hers.
    await badgeSays(c, 'news', 2);

    // A message in the room alice is looking at raises no badge; carol's goes to 3.
    await sendMessage(b, 'a third while alice reads');
    await messages(a, 'a third while alice reads').waitFor();
    await badgeSays(c, 'news', 3);
    await roomItem(a, 'news').getByTestId('last-message').filter({ hasText: 'bob: a third while alice reads' }).waitFor();
    assert.equal(await badgeOf(a, 'news').count(), 0);
    await until(unread, 0, "alice's unread count after a message in the open room");
    assert.equal(await badgeOf(a, 'news').count(), 0);

    // Back on "chat", alice's "news" stays read; carol opens "news" and hers clears.
    await roomItem(a, 'chat').click();
    await a.getByTestId('room-title').filter({ hasText: 'chat' }).waitFor();
    await roomItem(c, 'news').click();
    await messages(c, 'a third while alice reads').waitFor();
    await badgeSays(c, 'news', 0, 2000);
    await a.waitForTimeout(500);
    assert.equal(await badgeOf(a, 'news').count(), 0);

    // Own messages never count: alice writes in "chat", carol (elsewhere) gets a badge of 1.
    await sendMessage(a, 'alice says hi');
    await badgeSays(c, 'chat', 1);
    await roomItem(c, 'chat').getByTestId('last-message').filter({ hasText: 'alice: alice says hi' }).waitFor();
    await roomItem(a, 'chat').getByTestId('last-message').filter({ hasText: 'You: alice says hi' }).waitFor();
  });

  test('presence: a member opening the room shows online with the count up; closing it shows offline after the grace', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'alice', 'bob');
    const [a, b] = pages;
    await createRoom(a, 'porch', 'PUBLIC');
    const roomId = roomIdOf(a);
    await gql(srv.url, await tokenOf(b), JOIN, { r: roomId });
    await a.getByTestId('member-count').filter({ hasText: '2 members' }).waitFor();
    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    await dotSays(a, 'alice', 'online');
    await dotSays(a, 'bob', 'offline');
    await onlineCountSays(a, 1);
    const bobDot = memberRow(a, 'bob').getByTestId('online-dot');
    assert.equal(await bobDot.getAttribute('role'), 'img');
    const grey = await bobDot.evaluate((el) => getComputedStyle(el).backgroundColor);

    // bob opens the room.
    await b.goto(`${srv.url}/rooms/${encodeURIComponent(roomId)}`);
    await b.getByRole('textbox', { name: 'Message' }).waitFor();
    await dotSays(a, 'bob', 'online');
    await onlineCountSays(a, 2);
    const green = await bobDot.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(green, grey, 'online and offline dots differ in colour');
    // bob sees both of them online too.
    await b.getByRole('button', { name: 'Members', exact: true }).click();
    await dotSays(b, 'alice', 'online');
    await dotSays(b, 'bob', 'online');
    await onlineCountSays(b, 2);
    await screenshot(a, '24-presence-alice');

    // bob closes his page: after the grace period (5 s) he is offline.
    const closedAt = Date.now();
    await b.close();
    await dotSays(a, 'bob', 'offline', 12_000);
    await onlineCountSays(a, 1, 5000);
    const took = Date.now() - closedAt;
    assert.ok(took >= 3000, `offline shown after the grace, not at once (${took} ms)`);
    await dotSays(a, 'alice', 'online');
  });

  test('a declined join request: the requester is told at once and may ask again', async (t) => {
    const { pages } = await browserUsers(browser(), t, 'alice', 'bob', 'carol');
    const [a, , c] = pages;
    await createRoom(a, 'stage', 'RESTRICTED');
    await listIsLive(c);
    await roomItem(c, 'stage').click();
    await c.getByPlaceholder(/Say why/).fill('may I?');
    await c.getByRole('button', { name: 'Request to join' }).click();
    await c.getByText('Request sent').waitFor();

    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    const panel = panelOf(a);
    await panel.getByRole('tab', { name: /Requests/ }).click();
    const request = panel.getByTestId('join-request').filter({ hasText: 'carol' });
    await request.getByText('may I?').waitFor();
    await request.getByRole('button', { name: 'Reject' }).click();
    await request.waitFor({ state: 'detached' });

    // carol, without reloading: a notice, and the panel no longer says "Request sent".
    const notice = c.getByTestId('request-rejected');
    await notice.waitFor();
    assert.equal((await notice.locator('.alert-body').innerText()).trim(), 'Your request to join “stage” was declined.');
    assert.equal(await c.locator('[role="status"]').filter({ has: notice }).count(), 1, 'the notice is in a status region');
    await c.getByTestId('join-declined').waitFor();
    assert.equal(await c.getByText('Request sent').count(), 0);
    await screenshot(c, '25-request-declined-carol');

    // She asks again; alice sees the new request.
    await c.getByRole('button', { name: 'Ask again' }).click();
    await c.getByText('Request sent').waitFor();
    assert.equal(await c.getByTestId('join-declined').count(), 0);
    await panel.getByTestId('join-request').filter({ hasText: 'carol' }).waitFor();
    // The notice can be dismissed.
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    await notice.waitFor({ state: 'detached' });
  });

  test('an approved join request opens the room for the requester live, and a notice offers rooms opened elsewhere', async (t) => {
    const { pages } = await browserUsers(browser(), t, 'alice', 'carol');
    const [a, c] = pages;
    await createRoom(a, 'backstage', 'RESTRICTED');
    await createRoom(a, 'green-room', 'RESTRICTED');
    await listIsLive(c);

    // carol waits on the "backstage" join panel; alice approves: the chat opens.
    await roomItem(c, 'backstage').click();
    await c.getByRole('button', { name: 'Request to join' }).click();
    await c.getByText('Request sent').waitFor();
    await roomItem(a, 'backstage').click();
    await a.getByTestId('room-title').filter({ hasText: 'backstage' }).waitFor();
    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    const panel = panelOf(a);
    await panel.getByRole('tab', { name: /Requests/ }).click();
    await panel.getByTestId('join-request').filter({ hasText: 'carol' }).getByRole('button', { name: 'Approve' }).click();

    await c.getByRole('textbox', { name: 'Message' }).waitFor();
    const approved = c.getByTestId('request-approved');
    await approved.waitFor();
    assert.equal((await approved.locator('.alert-body').innerText()).trim(), 'You were let into “backstage”.');
    // The room is open already: nothing to offer.
    assert.equal(await approved.getByRole('button', { name: 'Open room' }).count(), 0);
    await sendMessage(c, 'thanks, alice');
    await messages(a, 'thanks, alice').waitFor();
    // The list has it among carol's rooms.
    await roomItem(c, 'backstage').getByText('joined').waitFor();
    await screenshot(c, '26-request-approved-carol');

    // Approved while carol is elsewhere: the notice opens the room.
    await roomItem(c, 'green-room').click();
    await c.getByRole('button', { name: 'Request to join' }).click();
    await c.getByText('Request sent').waitFor();
    await roomItem(c, 'backstage').click();
    await c.getByTestId('room-title').filter({ hasText: 'backstage' }).waitFor();
    await roomItem(a, 'green-room').click();
    await a.getByTestId('room-title').filter({ hasText: 'green-room' }).waitFor();
    if (!(await panel.isVisible())) await a.getByRole('button', { name: 'Manage', exact: true }).click();
    await panel.getByRole('tab', { name: /Requests/ }).click();
    await panel.getByTestId('join-request').filter({ hasText: 'carol' }).getByRole('button', { name: 'Approve' }).click();
    const second = c.getByTestId('request-approved').filter({ hasText: 'green-room' });
    await second.waitFor();
    await second.getByRole('button', { name: 'Open room' }).click();
    await c.getByTestId('room-title').filter({ hasText: 'green-room' }).waitFor();
    await c.getByRole('textbox', { name: 'Message' }).waitFor();
  });
});
