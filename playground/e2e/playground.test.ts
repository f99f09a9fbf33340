// End-to-end tests: a real roomcast server per test, two browser users.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  createRoom,
  manageMember,
  messages,
  newUserPage,
  openAndJoin,
  roomItem,
  screenshot,
  sendMessage,
  sharedBrowser,
  signUp,
  startServer,
  startUsers,
  type Server,
} from './harness';

const browser = sharedBrowser();

/** A server plus two signed-up users (alice = A, bob = B) in separate browser contexts. */
async function twoUsers(
  t: { after: (fn: () => Promise<void>) => void },
  opts: { phoneB?: boolean; dbDir?: string } = {},
): Promise<{ srv: Server; a: Page; b: Page }> {
  const bob = { name: 'bob', viewport: opts.phoneB ? { width: 390, height: 844 } : undefined };
  const { srv, pages } = await startUsers(browser(), t, ['alice', bob], { dbDir: opts.dbDir });
  return { srv, a: pages[0], b: pages[1] };
}

/** alice creates a public room and bob joins it; both have it open. */
async function sharedRoom(a: Page, b: Page, name: string): Promise<void> {
  await createRoom(a, name, 'PUBLIC', `All about ${name}`);
  await openAndJoin(b, name);
  // alice sees bob arrive (member count is updated from roomEvents).
  await a.getByTestId('member-count').filter({ hasText: '2 members' }).waitFor();
}

async function postMessage(url: string, token: string, roomId: string, body: string): Promise<void> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($roomId: ID!, $body: String!) { sendMessage(roomId: $roomId, body: $body) { id } }',
      variables: { roomId, body },
    }),
  });
  const json = (await res.json()) as { errors?: unknown };
  assert.equal(json.errors, undefined, JSON.stringify(json.errors));
}

function editorLine(page: Page, text: string) {
  return page.locator('.graphiql-query-editor .view-line').filter({ hasText: text }).first();
}

describe('roomcast playground', () => {
  test('two users exchange live messages in a public room', async (t) => {
    // bob uses a phone-sized window: list and room are separate screens there.
    const { a, b } = await twoUsers(t, { phoneB: true });
    await createRoom(a, 'lobby', 'PUBLIC', 'Say hi');
    // B sees the new room appear without reloading (polling), with badge, topic and count.
    const item = roomItem(b, 'lobby');
    await item.waitFor();
    await item.getByText('Public').waitFor();
    await item.getByText('Say hi').waitFor();
    await item.getByText('1 member').waitFor();
    await openAndJoin(b, 'lobby');

    await sendMessage(a, 'hello bob');
    await messages(b, 'hello bob').waitFor();
    await sendMessage(b, 'hi alice, good to see you');
    await messages(a, 'hi alice, good to see you').waitFor();
    await sendMessage(a, 'second from alice');
    await messages(b, 'second from alice').waitFor();

    // Own messages are marked as such; the other user's are not.
    assert.match((await messages(a, 'hello bob').getAttribute('class')) ?? '', /\bmine\b/);
    assert.doesNotMatch((await messages(b, 'hello bob').getAttribute('class')) ?? '', /\bmine\b/);
    assert.match((await messages(b, 'hi alice, good to see you').getAttribute('class')) ?? '', /\bmine\b/);
    // Nothing doubled (live echo + mutation result are deduplicated).
    assert.equal(await messages(a).count(), 3);
    assert.equal(await messages(b).count(), 3);
    await screenshot(a, '1-chat-alice');
    await screenshot(b, '1-chat-bob-phone');
    // Back to the list on the phone.
    await b.getByRole('button', { name: 'Back to rooms' }).click();
    await roomItem(b, 'lobby').waitFor();
  });

  test('a private room is invisible until the admin adds the user', async (t) => {
    const { a, b } = await twoUsers(t);
    await createRoom(a, 'town-square', 'PUBLIC');
    await createRoom(a, 'secret-base', 'PRIVATE', 'Members only');
    // Wait until B's list has polled after both rooms exist: the public one shows up...
    await roomItem(b, 'town-square').waitFor();
    // ...and a fresh poll still does not list the private one.
    await b.reload();
    await roomItem(b, 'town-square').waitFor();
    assert.equal(await roomItem(b, 'secret-base').count(), 0);
    await b.getByRole('searchbox', { name: 'Search rooms' }).fill('secret');
    await b.getByText('No rooms match').waitFor();
    await b.getByRole('searchbox', { name: 'Search rooms' }).fill('');

    // alice adds bob by username (user(username:) -> addMember).
    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    const panel = a.getByRole('complementary', { name: 'Room details' });
    await panel.getByLabel('Username to add').fill('bob');
    await panel.getByRole('button', { name: 'Add', exact: true }).click();
    await panel.locator('[data-testid="member"][data-username="bob"]').waitFor();

    // The room now appears in bob's list (next poll) and he is already a member.
    await roomItem(b, 'secret-base').waitFor();
    await roomItem(b, 'secret-base').getByText('Private').waitFor();
    await roomItem(b, 'secret-base').click();
    await b.getByRole('textbox', { name: 'Message' }).waitFor();
    await sendMessage(b, 'thanks for the invite');
    await messages(a, 'thanks for the invite').waitFor();
    await screenshot(b, '2-private-room-bob');
    await screenshot(a, '2-private-room-alice');
  });

  test('a muted user sees a clear "muted" message when sending', async (t) => {
    const { a, b } = await twoUsers(t);
    await sharedRoom(a, b, 'quiet-room');
    await sendMessage(b, 'before the mute');
    await messages(a, 'before the mute').waitFor();

    const { row, actions } = await manageMember(a, 'bob');
    await actions.getByLabel('Mute duration').selectOption({ label: '1 hour' });
    await actions.getByRole('button', { name: 'Mute', exact: true }).click();
    await row.getByText('Muted').waitFor();

    await sendMessage(b, 'can anyone hear me?');
    const err = b.getByTestId('send-error');
    await err.waitFor();
    assert.equal(await err.getAttribute('data-code'), 'MUTED');
    assert.match((await err.innerText()).toLowerCase(), /muted/);
    // The message was not posted anywhere.
    assert.equal(await messages(b, 'can anyone hear me?').count(), 0);
    assert.equal(await messages(a, 'can anyone hear me?').count(), 0);
    await screenshot(b, '3-muted-bob');
    await screenshot(a, '3-muted-alice');
  });

  test('an admin deletes a message and it vanishes in both views', async (t) => {
    const { a, b } = await twoUsers(t);
    await sharedRoom(a, b, 'cleanup');
    await sendMessage(b, 'keep this one');
    await sendMessage(b, 'something regrettable');
    await messages(a, 'something regrettable').waitFor();
    await messages(a, 'keep this one').waitFor();

    const doomed = messages(a, 'something regrettable');
    await doomed.hover();
    await doomed.getByRole('button', { name: 'Delete message' }).click();
    await a.getByRole('dialog', { name: 'Delete message?' }).getByRole('button', { name: 'Delete', exact: true }).click();
    await doomed.waitFor({ state: 'detached' });
    await messages(b, 'something regrettable').waitFor({ state: 'detached' });
    assert.equal(await messages(a, 'keep this one').count(), 1);
    assert.equal(await messages(b, 'keep this one').count(), 1);
    await screenshot(a, '4-deleted-alice');
    await screenshot(b, '4-deleted-bob');
  });

  test('a ban ends the banned user\'s view of the room', async (t) => {
    const { a, b } = await twoUsers(t);
    await sharedRoom(a, b, 'strict-room');
    await sendMessage(b, 'I am about to misbehave');
    await messages(a, 'I am about to misbehave').waitFor();

    const { actions } = await manageMember(a, 'bob');
    await actions.getByRole('button', { name: 'Ban…' }).click();
    await actions.getByPlaceholder('Reason (optional)').fill('spamming');
    await actions.getByRole('button', { name: 'Ban bob' }).click();

    const ended = b.getByTestId('room-ended');
    await ended.waitFor();
    assert.equal(await ended.getAttribute('data-code'), 'BANNED');
    await ended.getByText('You are banned from this room').waitFor();
    // Who, why and for how long (a permanent ban, the default).
    assert.equal(await ended.getByTestId('banned-by').innerText(), 'alice');
    assert.equal(await ended.getByTestId('banned-reason').innerText(), 'spamming');
    assert.equal(await ended.getByTestId('banned-until').innerText(), 'permanently');
    assert.equal(await b.getByRole('textbox', { name: 'Message' }).count(), 0);

    // alice sees the ban listed with its reason.
    const panel = a.getByRole('complementary', { name: 'Room details' });
    await panel.getByRole('tab', { name: /Bans/ }).click();
    await panel.getByTestId('ban').filter({ hasText: 'bob' }).filter({ hasText: 'spamming' }).waitFor();
    await screenshot(b, '5-banned-bob');
    await screenshot(a, '5-banned-alice');
  });

  test('validation errors show next to fields; restricted rooms need approval; full rooms say so', async (t) => {
    const { a, b } = await twoUsers(t);
    // Server-side validation errors are shown next to the field they concern.
    await a.getByRole('button', { name: '+ New room' }).click();
    const dialog = a.getByRole('dialog');
    await dialog.getByLabel('Name').fill('x'.repeat(101));
    await dialog.getByRole('button', { name: 'Create room' }).click();
    await dialog.locator('#room-name-error').filter({ hasText: /1 to 100 characters/ }).waitFor();
    await dialog.getByLabel('Name').fill('vip-lounge');
    await dialog.getByLabel('Type').selectOption('RESTRICTED');
    await dialog.getByLabel('Member limit').fill('0');
    await dialog.getByRole('button', { name: 'Create room' }).click();
    await dialog.locator('#room-max-error').filter({ hasText: /^Member limit must be between 1 and/ }).waitFor();
    assert.equal(await dialog.locator('#room-name-error').count(), 0);
    await screenshot(a, '8-validation-alice');
    await dialog.getByLabel('Member limit').fill('5');
    await dialog.getByRole('button', { name: 'Create room' }).click();
    await a.getByTestId('room-title').filter({ hasText: 'vip-lounge' }).waitFor();

    // bob asks to join the restricted room; alice approves; bob gets in without reloading.
    await roomItem(b, 'vip-lounge').getByText('Restricted').waitFor();
    await roomItem(b, 'vip-lounge').click();
    await b.getByPlaceholder(/Say why/).fill('let me in please');
    await b.getByRole('button', { name: 'Request to join' }).click();
    await b.getByText('Request sent').waitFor();
    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    const panel = a.getByRole('complementary', { name: 'Room details' });
    await panel.getByRole('tab', { name: /Requests/ }).click();
    const request = panel.getByTestId('join-request').filter({ hasText: 'bob' });
    await request.getByText('let me in please').waitFor();
    await request.getByRole('button', { name: 'Approve' }).click();
    await request.waitFor({ state: 'detached' });
    await b.getByRole('textbox', { name: 'Message' }).waitFor();
    await sendMessage(b, 'glad to be here');
    await messages(a, 'glad to be here').waitFor();

    // A full room refuses with a readable message, not raw JSON.
    await createRoom(a, 'tiny', 'PUBLIC');
    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    await panel.getByRole('tab', { name: 'Settings' }).click();
    await panel.getByLabel('Member limit').fill('1');
    await panel.getByRole('button', { name: 'Save changes' }).click();
    await panel.getByText('Room updated.').waitFor();
    await roomItem(b, 'tiny').getByText('1 member / 1').waitFor();
    await roomItem(b, 'tiny').click();
    await b.getByRole('button', { name: 'Join room' }).click();
    await b.getByRole('alert').filter({ hasText: 'This room is full' }).waitFor();
    await screenshot(b, '8-room-full-bob');
  });

  test('scrolling up loads older history in order', async (t) => {
    // 70 messages are seeded through the API at once: faster than one user may post.
    const srv = await startServer({ args: ['--message-rate', 'off'] });
    t.after(() => srv.stop());
    const { context, page } = await newUserPage(browser());
    t.after(() => context.close());
    await signUp(page, srv.url, 'dave');
    await createRoom(page, 'archive', 'PUBLIC');
    const token = (await page.evaluate(() => localStorage.getItem('roomcast.token')))!;
    const roomId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    for (let i = 1; i <= 70; i++) await postMessage(srv.url, token, roomId, `history-${i}`);
    await messages(page, 'history-70').waitFor();
    await page.reload();
    // The first page holds the newest 50; scrolling to the top fetches the rest.
    await messages(page, 'history-70').waitFor();
    assert.equal(await messages(page).count(), 50);
    await page.getByTestId('messages').evaluate((el) => (el.scrollTop = 0));
    await messages(page, 'history-1').waitFor();
    const bodies = await page.getByTestId('message-body').allInnerTexts();
    assert.deepEqual(bodies, Array.from({ length: 70 }, (_, i) => `history-${i + 1}`));
    await screenshot(page, '9-history');
  });

  test('after a server restart the live view resumes from the last cursor, nothing missing or doubled', async (t) => {
    const dbDir = mkdtempSync(join(tmpdir(), 'roomcast-e2e-restart-'));
    t.after(() => rmSync(dbDir, { recursive: true, force: true }));
    const { srv, a, b } = await twoUsers(t, { dbDir });
    await sharedRoom(a, b, 'resilient');
    await sendMessage(a, 'before-restart-1');
    await sendMessage(a, 'before-restart-2');
    await messages(b, 'before-restart-2').waitFor();
    const token = await a.evaluate(() => localStorage.getItem('roomcast.token'));
    const roomId = decodeURIComponent(new URL(a.url()).pathname.split('/').pop()!);

    // Restart on the same address and database.
    const port = new URL(srv.url).port;
    await srv.stop();
    await b.getByText('Reconnecting').waitFor();
    const srv2 = await startServer({ dbDir, listen: `127.0.0.1:${port}` });
    t.after(() => srv2.stop());
    // Post right away, most likely before the browsers have reconnected.
    for (let i = 1; i <= 3; i++) await postMessage(srv2.url, token!, roomId, `after-restart-${i}`);

    for (const page of [a, b]) {
      await messages(page, 'after-restart-3').waitFor();
      for (const body of ['before-restart-1', 'before-restart-2', 'after-restart-1', 'after-restart-2', 'after-restart-3'])
        assert.equal(await messages(page, body).count(), 1, `${body} exactly once`);
      const order = await page.getByTestId('message-body').allInnerTexts();
      assert.deepEqual(order, ['before-restart-1', 'before-restart-2', 'after-restart-1', 'after-restart-2', 'after-restart-3']);
    }
    // And live delivery still works on the new connection.
    await sendMessage(b, 'alive again');
    await messages(a, 'alive again').waitFor();
    await screenshot(b, '7-after-restart-bob');
  });

  test('GraphiQL at /graphiql runs a query and a subscription', async (t) => {
    const srv = await startServer();
    t.after(() => srv.stop());
    const { context, page } = await newUserPage(browser());
    t.after(() => context.close());
    await signUp(page, srv.url, 'carol');
    await createRoom(page, 'api-room', 'PUBLIC');
    const roomId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const token = await page.evaluate(() => localStorage.getItem('roomcast.token'));
    assert.ok(token, 'token stored in localStorage');

    // Query: the token from localStorage is used, so viewer is carol.
    const query = 'query Me {\n  viewer {\n    username\n  }\n}';
    await page.goto(`${srv.url}/graphiql?query=${encodeURIComponent(query)}`);
    // Wait until the (Monaco) editor has loaded the operation, then run it.
    await editorLine(page, 'viewer').waitFor();
    await page.getByRole('button', { name: /Execute query/ }).click();
    const response = page.locator('.graphiql-response');
    await response.getByText('"carol"').waitFor();
    await screenshot(page, '6-graphiql-query');

    // Subscription over graphql-ws, with the token in connection_init.
    const sub = `subscription Live {\n  roomMessages(roomId: "${roomId}") {\n    body\n    author {\n      username\n    }\n  }\n}`;
    await page.goto(`${srv.url}/graphiql?query=${encodeURIComponent(sub)}`);
    await editorLine(page, 'roomMessages').waitFor();
    await page.getByRole('button', { name: /Execute query/ }).click();
    // The run button turns into a stop button while the subscription is active.
    await page.getByRole('button', { name: /Stop query/ }).waitFor();
    // Post messages over HTTP until one arrives (the subscription may still be starting).
    const post = (body: string) => postMessage(srv.url, token!, roomId, body);
    let n = 0;
    await post(`pushed-over-websocket-${n}`);
    for (;;) {
      try {
        await response.getByText(/pushed-over-websocket-/).first().waitFor({ timeout: 2000 });
        break;
      } catch (e) {
        if (++n > 5) {
          await screenshot(page, '6-graphiql-subscription-FAILED');
          throw e;
        }
        await post(`pushed-over-websocket-${n}`);
      }
    }
    await screenshot(page, '6-graphiql-subscription');
  });
});
