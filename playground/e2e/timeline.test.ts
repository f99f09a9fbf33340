// End-to-end tests of the room's timeline: who is typing, system lines for joins, kicks,
// bans, renames and purges among the messages, a time on every message and day dividers,
// the start-of-conversation marker, "Jump to latest" with its count, the read marker
// (`markRead`: a room opened is read), and the room on a phone-sized screen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import {
  apiUser,
  browserUsers,
  createRoom,
  gql,
  manageMember,
  messages,
  newUserPage,
  openAndJoin,
  panelOf,
  roomIdOf,
  roomItem,
  screenshot,
  sendMessage,
  sharedBrowser,
  signUp,
  startServer,
  tokenOf,
} from './harness';

const browser = sharedBrowser();

/** Waits until the typing line says exactly `text` ('' : nobody is typing). */
async function typingSays(page: Page, text: string): Promise<void> {
  await page.waitForFunction((want) => document.querySelector('[data-testid="typing"]')?.textContent?.trim() === want, text, { timeout: 10_000 });
}

function systemLine(page: Page, text: string) {
  return page.getByTestId('system-line').filter({ hasText: text });
}

/** The timeline as read top to bottom: "msg:<body>" and "sys:<text>". */
async function timeline(page: Page): Promise<string[]> {
  return page.getByTestId('messages').evaluate((list) =>
    [...list.querySelectorAll('[data-testid="message"], [data-testid="system-line"]')].map((el) =>
      el.getAttribute('data-testid') === 'message'
        ? `msg:${el.querySelector('[data-testid="message-body"]')?.textContent ?? ''}`
        : `sys:${el.querySelector('.system-text')?.textContent ?? ''}`,
    ),
  );
}

const SEND = 'mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id } }';
const JOIN = 'mutation($r: ID!) { joinRoom(roomId: $r) { role } }';

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

/** Whether the element's centre is really showing it (not covered by anything else). */
async function uncovered(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((sel) => {
    const all = document.querySelectorAll(sel);
    const el = all[all.length - 1];
    if (!el) return false;
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + Math.min(r.height / 2, 10);
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
    const hit = document.elementFromPoint(x, y);
    return !!hit && (el === hit || el.contains(hit));
  }, selector);
}

describe('roomcast playground: the timeline', () => {
  test('who is typing: "bob is typing…", "bob and carol are typing…", cleared by sending and by emptying the box', async (t) => {
    const { pages } = await browserUsers(browser(), t, 'alice', 'bob', 'carol');
    const [a, b, c] = pages;
    await createRoom(a, 'typing-room', 'PUBLIC');
    await openAndJoin(b, 'typing-room');
    await openAndJoin(c, 'typing-room');
    await a.getByTestId('member-count').filter({ hasText: '3 members' }).waitFor();
    // Everyone's live feeds are up once a message reaches them live.
    await sendMessage(a, 'who is here?');
    await messages(b, 'who is here?').waitFor();
    await messages(c, 'who is here?').waitFor();
    const typing = a.getByTestId('typing');
    assert.equal(await typing.getAttribute('aria-live'), 'polite');

    await b.getByRole('textbox', { name: 'Message' }).fill('hello every');
    await typingSays(a, 'bob is typing…');
    await typingSays(c, 'bob is typing…');
    // Never the viewer themself.
    assert.equal((await b.getByTestId('typing').textContent())?.trim(), '');

    await c.getByRole('textbox', { name: 'Message' }).fill('me t');
    await typingSays(a, 'bob and carol are typing…');
    await typingSays(b, 'carol is typing…');
    await screenshot(a, '18-typing-two-alice');

    // Sending ends bob's typing; carol emptying her box ends hers.
    await b.getByRole('textbox', { name: 'Message' }).press('Enter');
    await messages(a, 'hello every').waitFor();
    await typingSays(a, 'carol is typing…');
    await typingSays(c, '');
    await c.getByRole('textbox', { name: 'Message' }).fill('');
    await typingSays(a, '');
    await typingSays(b, '');
  });

  test('joins, a kick with its reason, a rename, a ban with a purge and an unban are lines in the timeline, in arrival order', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'alice', 'bob', 'carol');
    const [a, b, c] = pages;
    await createRoom(a, 'events-room', 'PUBLIC');
    const roomId = roomIdOf(a);
    await openAndJoin(b, 'events-room');
    await systemLine(a, 'bob joined the room').waitFor();
    await sendMessage(b, 'hello all');
    await messages(a, 'hello all').waitFor();
    await openAndJoin(c, 'events-room');
    await systemLine(a, 'carol joined the room').waitFor();
    await systemLine(b, 'carol joined the room').waitFor();

    // alice removes carol with a reason.
    const { actions } = await manageMember(a, 'carol');
    await actions.getByRole('button', { name: 'Remove…' }).click();
    await actions.getByLabel('Reason for removing').fill('off topic');
    await actions.getByRole('button', { name: 'Remove carol' }).click();
    await systemLine(b, 'alice removed carol: off topic').waitFor();
    await systemLine(a, 'You removed carol: off topic').waitFor();
    await sendMessage(b, 'that was quick');
    await messages(a, 'that was quick').waitFor();

    // alice renames the room.
    const panel = panelOf(a);
    await panel.getByRole('tab', { name: 'Settings' }).click();
    await panel.locator('#set-name').fill('the-lounge');
    await panel.getByRole('button', { name: 'Save changes' }).click();
    await systemLine(b, 'The room was renamed to “the-lounge”').waitFor();
    await systemLine(a, 'The room was renamed to “the-lounge”').waitFor();

    // carol comes back and posts twice; alice bans her, erasing them, then lifts the ban.
    const alice = await tokenOf(a);
    const carol = await tokenOf(c);
    const carolId = (await gql<{ viewer: { id: string } }>(srv.url, carol, '{ viewer { id } }')).viewer.id;
    await gql(srv.url, carol, JOIN, { r: roomId });
    await gql(srv.url, carol, SEND, { r: roomId, b: 'spam one' });
    await gql(srv.url, carol, SEND, { r: roomId, b: 'spam two' });
    await messages(b, 'spam two').waitFor();
    await gql(
      srv.url,
      alice,
      'mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u, reason: "spam", deleteMessagesSeconds: 3600) { reason } }',
      { r: roomId, u: carolId },
    );
    await systemLine(b, 'alice banned carol: spam').waitFor();
    await systemLine(b, '2 messages by carol were removed').waitFor();
    await messages(b, 'spam two').waitFor({ state: 'detached' });
    await gql(srv.url, alice, 'mutation($r: ID!, $u: ID!) { unbanUser(roomId: $r, userId: $u) }', { r: roomId, u: carolId });
    await systemLine(b, 'carol was unbanned').waitFor();
    await screenshot(b, '19-system-lines-bob');

    // Lines are not banners: nothing of this is a notice.
    assert.equal(await b.getByTestId('room-notice').count(), 0);
    const bobSaw = await timeline(b);
    const ban = bobSaw.findIndex((x) => x.startsWith('sys:alice banned carol'));
    assert.deepEqual(bobSaw.slice(0, 5), [
      'msg:hello all',
      'sys:carol joined the room',
      'sys:alice removed carol: off topic',
      'msg:that was quick',
      'sys:The room was renamed to “the-lounge”',
    ]);
    assert.deepEqual(bobSaw.slice(5, ban), ['sys:carol joined the room']);
    assert.deepEqual(
      bobSaw.slice(ban).map((x) => x.replace(/ until .*/, '')),
      ['sys:alice banned carol: spam', 'sys:2 messages by carol were removed', 'sys:carol was unbanned'],
    );
    // Each line says when it happened.
    const first = systemLine(b, 'carol was unbanned').locator('time');
    assert.match((await first.getAttribute('title')) ?? '', /\d/);
  });

  test('every message has its time on hover, and days are divided', async (t) => {
    const { pages } = await browserUsers(browser(), t, 'alice', 'bob');
    const [a, b] = pages;
    await createRoom(a, 'clock-room', 'PUBLIC');
    await openAndJoin(b, 'clock-room');
    await sendMessage(a, 'first of two');
    await sendMessage(a, 'second of two');
    await messages(b, 'second of two').waitFor();

    // The second is grouped under the first: its time shows only on hover (or focus).
    const second = messages(b, 'second of two');
    assert.match((await second.getAttribute('class')) ?? '', /\bgrouped\b/);
    const time = second.getByTestId('message-time');
    await b.getByTestId('room-title').hover();
    await time.waitFor({ state: 'hidden' });
    await second.locator('.msg-bubble').hover();
    await time.waitFor({ state: 'visible' });
    assert.match((await time.innerText()).trim(), /^\d{1,2}:\d{2}/);
    await screenshot(b, '20-time-on-hover-bob');

    // The full date and time, as a tooltip on every message.
    for (const body of ['first of two', 'second of two']) {
      const m = messages(b, body);
      const iso = await m.locator('time').first().getAttribute('datetime');
      const want = await b.evaluate((d) => new Date(d).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }), iso!);
      assert.equal(await m.locator('.msg-bubble').getAttribute('title'), want);
      assert.match(want, /\d{4}/, 'the tooltip has the year');
    }

    // One day, one divider: "Today".
    const dividers = b.getByTestId('day-divider');
    assert.equal(await dividers.count(), 1);
    assert.equal((await dividers.innerText()).trim(), 'Today');
  });

  test('the start of the conversation shows once history reaches it; "Jump to latest" counts what arrived below', async (t) => {
    // 63 messages from one user: past the default send rate.
    const srv = await startServer({ args: ['--message-rate', 'off'] });
    t.after(() => srv.stop());
    const { context, page: a } = await newUserPage(browser());
    t.after(() => context.close());
    await signUp(a, srv.url, 'alice');
    await createRoom(a, 'long-room', 'PUBLIC');
    const roomId = roomIdOf(a);
    const bob = await apiUser(srv.url, 'bob');
    await gql(srv.url, bob.token, JOIN, { r: roomId });
    for (let i = 1; i <= 60; i++) await gql(srv.url, bob.token, SEND, { r: roomId, b: `history ${i}` });

    // A fresh view loads the newest 50: the start is not reached yet.
    await a.reload();
    await messages(a, 'history 60').waitFor();
    assert.equal(await a.getByTestId('conversation-start').count(), 0);
    assert.equal(await a.getByTestId('jump-latest').count(), 0);

    // Scrolling to the top loads the rest, and the marker with it.
    const list = a.getByTestId('messages');
    await list.evaluate((el) => el.scrollTo(0, 0));
    const start = a.getByTestId('conversation-start');
    await start.waitFor();
    await messages(a, 'history 1').waitFor();
    assert.match(await start.innerText(), /This is the start of long-room/);

    // alice stays up there; bob posts three.
    await list.evaluate((el) => el.scrollTo(0, 0));
    for (let i = 1; i <= 3; i++) await gql(srv.url, bob.token, SEND, { r: roomId, b: `new ${i}` });
    const jump = a.getByTestId('jump-latest');
    await jump.filter({ hasText: '3 new messages ↓' }).waitFor();
    assert.equal(await jump.getAttribute('data-count'), '3');
    await screenshot(a, '21-jump-latest-alice');

    await jump.click();
    await jump.waitFor({ state: 'detached' });
    await a.waitForFunction(() => {
      const box = document.querySelector('[data-testid="messages"]')!.getBoundingClientRect();
      const all = document.querySelectorAll('[data-testid="message"]');
      const r = all[all.length - 1].getBoundingClientRect();
      return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    });
    assert.equal(await messages(a).last().getByTestId('message-body').innerText(), 'new 3');

    // At the bottom, new messages just come into view: no button.
    await gql(srv.url, bob.token, SEND, { r: roomId, b: 'new 4' });
    await messages(a, 'new 4').waitFor();
    assert.equal(await jump.count(), 0);
  });

  test('opening a room marks it read (unreadCount 0), as do messages arriving while it is open; at most about once a second', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'alice');
    const [a] = pages;
    const alice = await tokenOf(a);
    const roomId = (await gql<{ createRoom: { id: string } }>(srv.url, alice, 'mutation { createRoom(input: { name: "unread-room", type: PUBLIC }) { id } }')).createRoom.id;
    const bob = await apiUser(srv.url, 'bob');
    await gql(srv.url, bob.token, JOIN, { r: roomId });
    for (let i = 1; i <= 5; i++) await gql(srv.url, bob.token, SEND, { r: roomId, b: `unread ${i}` });
    const unread = async () => (await gql<{ room: { unreadCount: number | null } }>(srv.url, alice, 'query($id: ID!) { room(id: $id) { unreadCount } }', { id: roomId })).room.unreadCount;
    assert.equal(await unread(), 5);

    const marks: number[] = [];
    a.on('request', (req) => {
      if (req.method() === 'POST' && /mutation MarkRead\b/.test(req.postData() ?? '')) marks.push(Date.now());
    });
    await roomItem(a, 'unread-room').click();
    await messages(a, 'unread 5').waitFor();
    await until(unread, 0, "alice's unread count after opening the room");

    // Messages arriving while the room is open (and the tab visible) are read too.
    for (let i = 6; i <= 10; i++) await gql(srv.url, bob.token, SEND, { r: roomId, b: `unread ${i}` });
    await messages(a, 'unread 10').waitFor();
    await until(unread, 0, "alice's unread count after new messages came into view");
    for (let i = 1; i < marks.length; i++) assert.ok(marks[i] - marks[i - 1] >= 900, `markRead calls ${marks[i] - marks[i - 1]} ms apart`);
    assert.ok(marks.length >= 2 && marks.length <= 6, `${marks.length} markRead calls`);
  });

  test('on a phone-sized screen the composer and the newest message are in view and uncovered, and the room list is one tap away', async (t) => {
    const { srv } = await browserUsers(browser(), t);
    const { context, page } = await newUserPage(browser(), { width: 390, height: 844 });
    t.after(() => context.close());
    await signUp(page, srv.url, 'carol');
    const alice = await apiUser(srv.url, 'alice');
    const roomId = (await gql<{ createRoom: { id: string } }>(srv.url, alice.token, 'mutation { createRoom(input: { name: "pocket-room", type: PUBLIC, topic: "Small screens" }) { id } }')).createRoom.id;
    const long = 'a longer message that wraps over a few lines on a narrow screen, '.repeat(3).trim();
    for (let i = 1; i <= 25; i++) await gql(srv.url, alice.token, SEND, { r: roomId, b: i % 5 === 0 ? `${long} (${i})` : `pocket ${i}` });
    await gql(srv.url, alice.token, SEND, { r: roomId, b: 'the newest of all' });

    await openAndJoin(page, 'pocket-room');
    // The list gave way to the room.
    assert.equal(await roomItem(page, 'pocket-room').isVisible(), false);
    const composer = page.getByRole('textbox', { name: 'Message' });
    const newest = messages(page, 'the newest of all');
    await newest.waitFor();
    await page.waitForFunction(() => {
      const box = document.querySelector('[data-testid="messages"]')!.getBoundingClientRect();
      const all = document.querySelectorAll('[data-testid="message"]');
      const r = all[all.length - 1].getBoundingClientRect();
      return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    });
    assert.ok(await uncovered(page, '[data-testid="message"] .msg-body'), 'the newest message is not covered');
    assert.ok(await uncovered(page, '#composer-input'), 'the composer is not covered');
    const nb = (await newest.boundingBox())!;
    const cb = (await composer.boundingBox())!;
    assert.ok(nb.y + nb.height <= cb.y, 'the newest message ends above the composer');
    assert.ok(cb.y + cb.height <= 844, 'the composer is on screen');

    // A message sent from the phone lands in view too.
    await sendMessage(page, 'typed on a phone');
    await messages(page, 'typed on a phone').waitFor();
    await page.waitForFunction(() => {
      const box = document.querySelector('[data-testid="messages"]')!.getBoundingClientRect();
      const all = document.querySelectorAll('[data-testid="message"]');
      const r = all[all.length - 1].getBoundingClientRect();
      return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    });
    assert.ok(await uncovered(page, '[data-testid="message"] .msg-body'), 'the sent message is not covered');
    await screenshot(page, '22-phone-room-carol');

    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await roomItem(page, 'pocket-room').waitFor();
    assert.ok(await roomItem(page, 'pocket-room').isVisible());
    await screenshot(page, '22-phone-list-carol');
  });
});
