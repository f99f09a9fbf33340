// End-to-end tests of what a person sees around moderation and everyday use: a ban's
// reason, author and end shown every time (whichever of the feed's error and the ban's
// event arrives first), the owner's way out of a room, deleting with a confirmation,
// banners that never cover the newest message, and field errors in the form's own words.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import {
  apiUser,
  browserUsers,
  panelOf,
  createRoom,
  gql,
  manageMember,
  messages,
  openAndJoin,
  roomIdOf,
  roomItem,
  screenshot,
  sendMessage,
  sharedBrowser,
  tokenOf,
} from './harness';

const browser = sharedBrowser();

/** The banned view's heading and facts, read in one go (no waiting: they must come with the view). */
async function banFacts(view: Locator): Promise<{ title: string; by?: string; reason?: string; until?: string; expiresAt?: string }> {
  const [title, by, reason, until, expiresAt] = await view.evaluate((el) =>
    ['h2', '[data-testid="banned-by"]', '[data-testid="banned-reason"]', '[data-testid="banned-until"]', '[data-testid="banned-until"] time'].map((sel, i) => {
      const node = el.querySelector(sel);
      return (i === 4 ? node?.getAttribute('datetime') : node?.textContent?.trim()) ?? undefined;
    }),
  );
  return { title: title ?? '', by, reason, until, expiresAt };
}

/**
 * Whether the newest message comes to lie entirely inside the scrolling list (checked at
 * each frame for up to 2 s: a layout change is measured before the list has re-scrolled).
 */
async function newestFullyVisible(page: Page): Promise<boolean> {
  return page
    .waitForFunction(
      () => {
        const list = document.querySelector('[data-testid="messages"]');
        const all = list?.querySelectorAll('[data-testid="message"]');
        if (!list || !all?.length) return false;
        const last = all[all.length - 1].getBoundingClientRect();
        const box = list.getBoundingClientRect();
        return last.top >= box.top - 1 && last.bottom <= box.bottom + 1;
      },
      undefined,
      { polling: 'raf', timeout: 2000 },
    )
    .then(() => true, () => false);
}

const BAN = 'mutation($r: ID!, $u: ID!, $reason: String, $d: Int) { banUser(roomId: $r, userId: $u, reason: $reason, durationSeconds: $d) { expiresAt } }';
const DURATIONS = [3600, 86_400, 604_800, 2_592_000];

describe('roomcast playground: living with moderation', () => {
  test('a ban shows its reason, who banned and until when, every time (20 bans in a row)', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'bob');
    const [b] = pages;
    // alice moderates through the API: the banned user's view is what is under test.
    const alice = await apiUser(srv.url, 'alice');
    const roomId = (
      await gql<{ createRoom: { id: string } }>(srv.url, alice.token, 'mutation { createRoom(input: { name: "ban-loop", type: PUBLIC }) { id } }')
    ).createRoom.id;
    const bob = { token: await tokenOf(b), id: (await gql<{ viewer: { id: string } }>(srv.url, await tokenOf(b), '{ viewer { id } }')).viewer.id };
    const join = () => gql(srv.url, bob.token, 'mutation($r: ID!) { joinRoom(roomId: $r) { role } }', { r: roomId });
    await join();
    await b.goto(`${srv.url}/rooms/${encodeURIComponent(roomId)}`);

    const started = Date.now();
    let shown = 0;
    for (let i = 1; i <= 20; i++) {
      const composer = b.getByRole('textbox', { name: 'Message' });
      await composer.waitFor();
      // Half the time the ban comes once the live feed has delivered a message (the feed's
      // BANNED error and the MemberBanned event then race); otherwise right away. The first
      // round waits for the live feed too: the page has only just loaded.
      if (i % 2 === 0 || i === 1) {
        await gql(srv.url, alice.token, 'mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id } }', { r: roomId, b: `ping ${i}` });
        await messages(b, `ping ${i}`).waitFor();
      }
      const reason = `reason #${i}: flooding`;
      const seconds = DURATIONS[i % DURATIONS.length];
      const { banUser } = await gql<{ banUser: { expiresAt: string } }>(srv.url, alice.token, BAN, { r: roomId, u: bob.id, reason, d: seconds });

      // The banned card, wherever the view shows it: ended by the feed's error or event, or
      // (should the room's reload win that race) in place of the join panel.
      const banned = b.getByTestId('banned');
      await banned.waitFor();
      const live = await banFacts(banned);
      assert.equal(live.title, 'You are banned from this room');
      assert.equal(live.by, 'alice', `iteration ${i}: who`);
      assert.equal(live.reason, reason, `iteration ${i}: why`);
      assert.match(live.until ?? '', /^until \S/, `iteration ${i}: until when`);
      assert.equal(Date.parse(live.expiresAt!), Date.parse(banUser.expiresAt), `iteration ${i}: the ban's end`);
      assert.equal(await b.getByRole('button', { name: 'Join room' }).count(), 0);
      assert.equal(await composer.count(), 0);
      shown++;
      if (i === 20) await screenshot(b, '14-banned-live-bob');

      // Opening the room again says the same (the room comes with the viewer's ban), and
      // offers no "Join room".
      if (i % 4 === 0) {
        await b.getByRole('button', { name: 'Back to rooms' }).click();
        await roomItem(b, 'ban-loop').click();
        const again = b.getByTestId('banned');
        await again.waitFor();
        assert.deepEqual(await banFacts(again), live);
        assert.equal(await b.getByRole('button', { name: 'Join room' }).count(), 0);
        if (i === 20) await screenshot(b, '14-banned-reopened-bob');
      }

      // Lift the ban, let bob back in, open the room for the next round.
      await gql(srv.url, alice.token, 'mutation($r: ID!, $u: ID!) { unbanUser(roomId: $r, userId: $u) }', { r: roomId, u: bob.id });
      await join();
      await b.getByRole('button', { name: 'Back to rooms' }).click();
      await roomItem(b, 'ban-loop').click();
    }
    assert.equal(shown, 20);
    console.log(`${shown}/20 bans shown with who, why and until when, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  test('a ban that lands before the live connection is up still ends the view as banned, with who and why (5 rounds)', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'bob');
    const [b] = pages;
    const alice = await apiUser(srv.url, 'alice');
    const roomId = (
      await gql<{ createRoom: { id: string } }>(srv.url, alice.token, 'mutation { createRoom(input: { name: "early-ban", type: PUBLIC }) { id } }')
    ).createRoom.id;
    const bob = { token: await tokenOf(b), id: (await gql<{ viewer: { id: string } }>(srv.url, await tokenOf(b), '{ viewer { id } }')).viewer.id };
    await gql(srv.url, alice.token, 'mutation($r: ID!) { sendMessage(roomId: $r, body: "before the ban") { id } }', { r: roomId });
    // Every WebSocket of bob's page waits at this gate before it reaches the server: the
    // history (HTTP) arrives, the ban lands, and only then does the first graphql-ws
    // connection come up — and with it the room's reload and the feeds' BANNED errors, in
    // either order.
    let open: () => void = () => {};
    let gate = Promise.resolve();
    await b.routeWebSocket(/\/graphql/, async (ws) => {
      await gate;
      ws.connectToServer();
    });
    for (let i = 1; i <= 5; i++) {
      gate = new Promise<void>((r) => (open = r));
      await gql(srv.url, bob.token, 'mutation($r: ID!) { joinRoom(roomId: $r) { role } }', { r: roomId });
      await b.goto(`${srv.url}/rooms/${encodeURIComponent(roomId)}`);
      await messages(b, 'before the ban').waitFor();
      const reason = `early ban #${i}`;
      const { banUser } = await gql<{ banUser: { expiresAt: string } }>(srv.url, alice.token, BAN, { r: roomId, u: bob.id, reason, d: 3600 });
      open();
      const ended = b.getByTestId('room-ended');
      await ended.waitFor();
      assert.equal(await ended.getAttribute('data-code'), 'BANNED', `round ${i}`);
      const facts = await banFacts(ended.getByTestId('banned'));
      assert.equal(facts.by, 'alice', `round ${i}: who`);
      assert.equal(facts.reason, reason, `round ${i}: why`);
      assert.equal(Date.parse(facts.expiresAt!), Date.parse(banUser.expiresAt), `round ${i}: until when`);
      assert.equal(await b.getByRole('button', { name: 'Join room' }).count(), 0);
      if (i === 5) await screenshot(b, '14-banned-early-bob');
      await gql(srv.url, alice.token, 'mutation($r: ID!, $u: ID!) { unbanUser(roomId: $r, userId: $u) }', { r: roomId, u: bob.id });
    }
  });

  test('the owner\'s Leave explains that ownership must be transferred first, with a shortcut to do it', async (t) => {
    const { srv, pages } = await browserUsers(browser(), t, 'alice');
    const [a] = pages;
    await createRoom(a, 'owned-room', 'PUBLIC');
    const bob = await apiUser(srv.url, 'bob');
    await gql(srv.url, bob.token, 'mutation($r: ID!) { joinRoom(roomId: $r) { role } }', { r: roomIdOf(a) });

    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    const panel = panelOf(a);
    await panel.locator('[data-testid="member"][data-username="bob"]').waitFor();
    const leave = panel.getByRole('button', { name: 'Leave room' });
    assert.equal(await leave.isDisabled(), true);
    const why = panel.getByTestId('owner-leave-why');
    assert.equal((await why.innerText()).trim(), 'You own this room: transfer ownership to another member before you leave.');
    assert.equal(await leave.getAttribute('aria-describedby'), await why.getAttribute('id'));

    // The shortcut opens the transfer form, focused on the choice of the new owner.
    await panel.getByRole('button', { name: 'Transfer ownership…' }).click();
    const form = panel.getByRole('form', { name: 'Transfer ownership' });
    const newOwner = form.getByLabel('New owner');
    await newOwner.waitFor();
    await a.waitForFunction(() => document.activeElement?.id === 'transfer-to');
    assert.equal(await newOwner.inputValue(), bob.id);
    await screenshot(a, '15-owner-leave-alice');

    await form.getByRole('button', { name: 'Transfer ownership' }).click();
    await panel.getByTestId('panel-flash').filter({ hasText: 'bob now owns the room' }).waitFor();
    // alice is an admin now: she may leave.
    await panel.getByRole('button', { name: 'Leave room' }).and(a.locator(':enabled')).waitFor();
    assert.equal(await panel.getByTestId('owner-leave-why').count(), 0);
  });

  test('deleting a message asks first (Esc keeps it, Enter deletes); banners never cover the newest message; a kick says why', async (t) => {
    const { pages } = await browserUsers(browser(), t, 'alice', 'bob');
    const [a, b] = pages;
    await createRoom(a, 'tidy-room', 'PUBLIC');
    // Opening a room puts the cursor in the composer.
    await a.waitForFunction(() => document.activeElement?.id === 'composer-input');
    await openAndJoin(b, 'tidy-room');
    await b.waitForFunction(() => document.activeElement?.id === 'composer-input');

    await sendMessage(a, 'keep me');
    await sendMessage(a, 'delete me');
    await messages(b, 'delete me').waitFor();

    const doomed = messages(a, 'delete me');
    const dialog = a.getByRole('dialog', { name: 'Delete message?' });
    await doomed.hover();
    await doomed.getByRole('button', { name: 'Delete message' }).click();
    await dialog.getByText('delete me', { exact: true }).waitFor();
    await screenshot(a, '16-delete-confirm-alice');
    await a.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await doomed.count(), 1);
    assert.equal(await messages(b, 'delete me').count(), 1);

    await doomed.hover();
    await doomed.getByRole('button', { name: 'Delete message' }).click();
    await dialog.waitFor();
    await a.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await doomed.waitFor({ state: 'detached' });
    await messages(b, 'delete me').waitFor({ state: 'detached' });
    assert.equal(await messages(a, 'keep me').count(), 1);

    // A long message fills bob's view; then a notice and a composer note appear below it.
    const tall = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join('\n');
    await gql(new URL(a.url()).origin, await tokenOf(a), 'mutation($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id } }', { r: roomIdOf(a), b: tall });
    await sendMessage(a, 'the newest message');
    await messages(b, 'the newest message').waitFor();
    assert.ok(await newestFullyVisible(b), 'newest message visible before the notice');
    const { actions } = await manageMember(a, 'bob');
    await actions.getByLabel('Mute duration').selectOption({ label: '1 hour' });
    await actions.getByRole('button', { name: 'Mute', exact: true }).click();
    await b.getByTestId('room-notice').filter({ hasText: 'You have been muted' }).waitFor();
    await b.locator('.composer-hint').getByText(/You are muted until /).waitFor();
    assert.ok(await newestFullyVisible(b), 'the notice does not cover the newest message');
    await screenshot(b, '16-notice-bob');

    // Removing bob with a reason: his view says who and why.
    await actions.getByRole('button', { name: 'Remove…' }).click();
    await actions.getByLabel('Reason for removing').fill('off topic');
    await actions.getByRole('button', { name: 'Remove bob' }).click();
    const ended = b.getByTestId('room-ended');
    await ended.waitFor();
    assert.equal(await ended.getAttribute('data-code'), 'FORBIDDEN');
    await ended.getByText('You were removed from tidy-room').waitFor();
    await ended.getByText('Removed by alice: off topic.').waitFor();
    await screenshot(b, '16-removed-bob');
  });

  test('field errors use the form\'s words: the member limit, max uses; inputs in error are marked', async (t) => {
    const { pages } = await browserUsers(browser(), t, 'alice');
    const [a] = pages;
    const apiNames = /maxUsers|maxUses|slowModeSeconds|expiresInSeconds|durationSeconds|deleteMessagesSeconds/;

    await a.getByRole('button', { name: '+ New room' }).click();
    const dialog = a.getByRole('dialog');
    await a.waitForFunction(() => document.activeElement?.id === 'room-name');
    await dialog.getByLabel('Name').fill('limits');
    await dialog.getByLabel('Member limit').fill('0');
    await dialog.getByRole('button', { name: 'Create room' }).click();
    const err = dialog.locator('#room-max-error');
    await err.waitFor();
    assert.equal(await err.innerText(), 'Member limit must be between 1 and 10000.');
    assert.equal(await err.getAttribute('role'), 'alert');
    const limit = dialog.getByLabel('Member limit');
    assert.equal(await limit.getAttribute('aria-invalid'), 'true');
    assert.equal(await limit.getAttribute('aria-describedby'), 'room-max-error');
    assert.doesNotMatch(await dialog.innerText(), apiNames);
    await screenshot(a, '17-member-limit-alice');
    // Esc closes the dialog.
    await a.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    await createRoom(a, 'limits', 'PUBLIC');
    await a.getByRole('button', { name: 'Manage', exact: true }).click();
    const panel = panelOf(a);
    await panel.getByRole('tab', { name: 'Settings' }).click();
    await panel.getByLabel('Member limit').fill('0');
    await panel.getByRole('button', { name: 'Save changes' }).click();
    await panel.locator('#set-max-error').filter({ hasText: /^Member limit must be between 1 and 10000\.$/ }).waitFor();
    assert.equal(await panel.getByLabel('Member limit').getAttribute('aria-invalid'), 'true');

    await panel.getByRole('tab', { name: 'Invites' }).click();
    await panel.getByLabel('Max uses').fill('0');
    await panel.getByRole('button', { name: 'Create invite link' }).click();
    await panel.locator('#invite-max-error').filter({ hasText: /^Max uses must be between 1 and 10000\.$/ }).waitFor();
    assert.equal(await panel.getByLabel('Max uses').getAttribute('aria-invalid'), 'true');
    assert.doesNotMatch(await panel.innerText(), apiNames);
  });
});
