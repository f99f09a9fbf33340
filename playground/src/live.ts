// The viewer's own live feed (`viewerEvents`), which replaces polling the room list, and
// what it leaves behind: per-room values newer than the last `rooms` answer (the unread
// count, the newest message, the member count), each stamped with when it was learnt so
// the list can tell whether its own answer or the live value is the newer one.
import { useEffect, useRef, useState } from 'react';
import type { Clients } from './client';
import { subscribe } from './client';
import type { LastMessageFieldsFragment, ViewerEventsLiveSubscription } from './gql/graphql';
import { ViewerEventsSubscription } from './operations';
import { toAppError } from './errors';

export type ViewerEvent = ViewerEventsLiveSubscription['viewerEvents'];
export type LastMessage = LastMessageFieldsFragment;

/** A monotonic clock for ordering answers and events (never goes backwards). */
export const now = (): number => performance.now();

export interface Stamped<T> {
  value: T;
  /** `now()` when it was learnt. */
  at: number;
}

/** What is known of a room beyond the room list's last answer. */
export interface RoomLive {
  unreadCount?: Stamped<number | null>;
  lastMessage?: Stamped<LastMessage | null>;
  memberCount?: Stamped<number>;
  name?: Stamped<string>;
}

export type LiveRooms = Readonly<Record<string, RoomLive>>;

export interface RoomFacts {
  unreadCount?: number | null;
  lastMessage?: LastMessage | null;
  memberCount?: number;
  name?: string;
}

/** `prev` with `facts` about room `id` learnt now. */
export function learn(prev: LiveRooms, id: string, facts: RoomFacts): LiveRooms {
  const at = now();
  const cur: RoomLive = { ...prev[id] };
  let changed = false;
  for (const key of Object.keys(facts) as (keyof RoomFacts)[]) {
    const value = facts[key];
    if (value === undefined) continue;
    (cur as Record<string, Stamped<unknown>>)[key] = { value, at };
    changed = true;
  }
  return changed ? { ...prev, [id]: cur } : prev;
}

/**
 * The room as the list shows it: each live value replaces the list's own when it was
 * learnt after the list's answer was asked for (`listAskedAt`); older ones are superseded.
 */
export function withLive<R extends { id: string; name: string; memberCount: number; unreadCount?: number | null; lastMessage?: LastMessage | null }>(
  room: R,
  live: RoomLive | undefined,
  listAskedAt: number,
): R {
  if (!live) return room;
  const newer = <T,>(s: Stamped<T> | undefined): s is Stamped<T> => !!s && s.at > listAskedAt;
  let out = room;
  if (newer(live.unreadCount)) out = { ...out, unreadCount: live.unreadCount.value };
  if (newer(live.lastMessage)) out = { ...out, lastMessage: live.lastMessage.value };
  if (newer(live.memberCount)) out = { ...out, memberCount: live.memberCount.value };
  if (newer(live.name)) out = { ...out, name: live.name.value };
  return out;
}

/** How long after the connection comes up the list is read again (see useViewerEvents). */
const CATCH_UP_MS = 300;

/**
 * The one `viewerEvents` subscription of the signed-in viewer (on the shared graphql-ws
 * client, so it also keeps that connection up). `onEvent` gets every event; `onCaughtUp`
 * is called shortly after every (re)connection: whatever happened before the feed was
 * listening (the first load, or while the connection was down) is not in it, so the
 * caller reads the list again then.
 */
export function useViewerEvents(clients: Clients, handlers: { onEvent: (ev: ViewerEvent) => void; onCaughtUp: () => void }): void {
  const cb = useRef(handlers);
  cb.current = handlers;

  useEffect(() => {
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const timers: ReturnType<typeof setTimeout>[] = [];
    let live: { dispose: () => void } | null = null;
    // Listen before subscribing: the first connection is opened by this very subscription.
    const off = clients.ws.on('connected', () => {
      timers.push(setTimeout(() => !cancelled && cb.current.onCaughtUp(), CATCH_UP_MS));
    });
    const start = () => {
      if (cancelled) return;
      live = subscribe(clients.ws, ViewerEventsSubscription, {}, {
        next: (d) => cb.current.onEvent(d.viewerEvents),
        error: (err) => {
          if (cancelled) return;
          // A signed-out token is handled by the app (it signs out); anything else: retry.
          if (toAppError(err).code === 'UNAUTHENTICATED') return;
          retry = setTimeout(start, 2000);
        },
        complete: () => {
          if (!cancelled) retry = setTimeout(start, 1000);
        },
      });
    };
    start();
    return () => {
      cancelled = true;
      clearTimeout(retry);
      timers.forEach(clearTimeout);
      off();
      live?.dispose();
    };
  }, [clients]);
}

/** Whether the page is visible now (kept up to date). */
export function useDocumentVisible(): boolean {
  const [visible, setVisible] = useState(() => typeof document === 'undefined' || document.visibilityState === 'visible');
  useEffect(() => {
    const on = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', on);
    return () => document.removeEventListener('visibilitychange', on);
  }, []);
  return visible;
}
