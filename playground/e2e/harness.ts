// Test harness: a real roomcast server per test and Debian's Chromium via playwright-core.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const here = import.meta.dirname;
export const playgroundDir = resolve(here, '..');
export const distDir = join(playgroundDir, 'dist');
export const outputDir = join(playgroundDir, 'test-output');
const bin = resolve(playgroundDir, process.env.ROOMCAST_BIN ?? '../target/debug/roomcast');

export interface Server {
  url: string;
  proc: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

/** Start roomcast on a free port with a fresh SQLite database; resolves once it says it listens. */
export async function startServer(opts: { dbDir?: string; listen?: string; args?: string[] } = {}): Promise<Server> {
  if (!existsSync(bin)) throw new Error(`roomcast binary not found at ${bin} (set ROOMCAST_BIN or run cargo build --bin roomcast)`);
  if (!existsSync(join(distDir, 'index.html'))) throw new Error(`${distDir}/index.html missing: run the build first`);
  const dir = opts.dbDir ?? mkdtempSync(join(tmpdir(), 'roomcast-e2e-'));
  const ownsDir = !opts.dbDir;
  const proc = spawn(
    bin,
    ['--listen', opts.listen ?? '127.0.0.1:0', '--database-url', `sqlite://${dir}/test.db`, '--playground-dir', distDir, ...(opts.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  const logs: string[] = [];
  const url = await new Promise<string>((ok, fail) => {
    const guard = setTimeout(() => fail(new Error(`roomcast did not report listening within 60s:\n${logs.join('\n')}`)), 60_000);
    const onLine = (line: string) => {
      logs.push(line);
      const m = /roomcast listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(guard);
        ok(m[1].replace(/\/$/, ''));
      }
    };
    createInterface({ input: proc.stdout! }).on('line', onLine);
    createInterface({ input: proc.stderr! }).on('line', (l) => logs.push(l));
    proc.once('exit', (code, sig) => {
      clearTimeout(guard);
      fail(new Error(`roomcast exited early (${code ?? sig}):\n${logs.join('\n')}`));
    });
  });
  let stopped = false;
  return {
    url,
    proc,
    logs,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function newUserPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[pageerror] ${e.message}`));
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(outputDir, { recursive: true });
  await page.screenshot({ path: join(outputDir, `${name}.png`) });
}

export const PASSWORD = 'correct-horse-battery';

export async function signUp(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByRole('tab', { name: 'Sign up' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByTestId('current-user').filter({ hasText: username }).waitFor();
}

export async function createRoom(page: Page, name: string, type: 'PUBLIC' | 'PRIVATE' | 'RESTRICTED' = 'PUBLIC', topic = ''): Promise<void> {
  await page.getByRole('button', { name: '+ New room' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('Type').selectOption(type);
  if (topic) await dialog.getByLabel('Topic').fill(topic);
  await dialog.getByRole('button', { name: 'Create room' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByTestId('room-title').filter({ hasText: name }).waitFor();
  await page.getByRole('textbox', { name: 'Message' }).waitFor();
}

export function roomItem(page: Page, name: string) {
  return page.locator(`[data-testid="room-item"][data-room-name="${name}"]`);
}

/** Open a room from the list (waiting for the live list to show it) and join it if needed. */
export async function openAndJoin(page: Page, name: string): Promise<void> {
  await roomItem(page, name).click();
  await page.getByTestId('room-title').filter({ hasText: name }).waitFor();
  const join = page.getByRole('button', { name: 'Join room' });
  const composer = page.getByRole('textbox', { name: 'Message' });
  await join.or(composer).first().waitFor();
  if (await join.isVisible()) await join.click();
  await composer.waitFor();
}

export async function sendMessage(page: Page, body: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(body);
  await box.press('Enter');
}

export function messages(page: Page, body?: string) {
  const all = page.getByTestId('message');
  return body === undefined ? all : all.filter({ has: page.getByTestId('message-body').getByText(body, { exact: true }) });
}

/** Open the member panel and the "Manage" actions for one member. */
export async function manageMember(page: Page, username: string) {
  const panel = page.getByRole('complementary', { name: 'Room details' });
  if (!(await panel.isVisible())) await page.getByRole('button', { name: 'Manage', exact: true }).click();
  const row = panel.locator(`[data-testid="member"][data-username="${username}"]`);
  const actions = row.getByTestId('member-actions');
  if (!(await actions.isVisible())) await row.getByRole('button', { name: `Manage ${username}` }).click();
  await actions.waitFor();
  return { panel, row, actions };
}

/** Run one GraphQL operation over HTTP as `token` (null: anonymous); fails on any error. */
export async function gql<T = Record<string, unknown>>(baseUrl: string, token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const json = (await res.json()) as { data?: T; errors?: unknown };
  if (json.errors !== undefined) throw new Error(`GraphQL errors: ${JSON.stringify(json.errors)}`);
  return json.data!;
}

/** A user that acts through the API only (no browser): registered, with its token. */
export async function apiUser(baseUrl: string, username: string): Promise<{ token: string; id: string }> {
  const d = await gql<{ register: { token: string; user: { id: string } } }>(
    baseUrl,
    null,
    'mutation($u: String!, $p: String!) { register(username: $u, password: $p) { token user { id } } }',
    { u: username, p: PASSWORD },
  );
  return { token: d.register.token, id: d.register.user.id };
}

/** The id of the room a page has open (`/rooms/<id>`). */
export function roomIdOf(page: Page): string {
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
}

/**
 * The one browser a test file's tests share: launched before them and closed after them.
 * Call it at the top level of the file; the function it returns gives the browser (once the
 * tests have begun).
 */
export function sharedBrowser(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('the shared browser is only there while the tests run');
    return browser;
  };
}

/** The session token a signed-in page keeps. */
export async function tokenOf(page: Page): Promise<string> {
  return (await page.evaluate(() => localStorage.getItem('roomcast.token')))!;
}

/** A user for `startUsers`: a name, or a name and the size of that user's window. */
export type UserSpec = string | { name: string; viewport?: { width: number; height: number } };

/** A fresh server (with `serverOpts`) plus one signed-up browser user per spec (each in
 * their own context), all stopped and closed when the test `t` ends. */
export async function startUsers(
  browser: Browser,
  t: { after: (fn: () => Promise<void>) => void },
  users: UserSpec[],
  serverOpts: Parameters<typeof startServer>[0] = {},
): Promise<{ srv: Server; pages: Page[] }> {
  const srv = await startServer(serverOpts);
  t.after(() => srv.stop());
  const pages: Page[] = [];
  for (const user of users) {
    const { name, viewport } = typeof user === 'string' ? { name: user, viewport: undefined } : user;
    const { context, page } = await newUserPage(browser, viewport);
    t.after(() => context.close());
    await signUp(page, srv.url, name);
    pages.push(page);
  }
  return { srv, pages };
}

/** A fresh server plus one signed-up browser user per name (in their own contexts), all
 * stopped and closed when the test `t` ends. */
export async function browserUsers(
  browser: Browser,
  t: { after: (fn: () => Promise<void>) => void },
  ...names: string[]
): Promise<{ srv: Server; pages: Page[] }> {
  return startUsers(browser, t, names);
}

/** The room's side panel (members, settings and the admin tabs). */
export function panelOf(page: Page) {
  return page.getByRole('complementary', { name: 'Room details' });
}
