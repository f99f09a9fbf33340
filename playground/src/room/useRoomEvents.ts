// The live `roomEvents` subscription of one room (moderation and membership) and what
// each event does to the room view: drop deleted (or purged) messages, end the view when
// the viewer is banned or removed or the room is deleted, show a notice, refetch what
// changed (reports reach admins only).
import { useEffect, useRef } from 'react';
import type { Clients } from '../client';
import { subscribe } from '../client';
import type { RoomEventsLiveSubscription } from '../gql/graphql';
import { RoomEventsSubscription } from '../operations';
import type { Me } from '../Shell';
import { formatDateTime } from '../util';
import { removedEnded, type Ended } from './ended';

export type RoomEvent = RoomEventsLiveSubscription['roomEvents'];

/** What room events may do to the view. */
export interface RoomEventEffects {
  me: Me;
  roomName: string;
  /** The viewer can no longer be in the room. */
  onEnded: (e: Ended) => void;
  /** Messages were erased (one deletion, or a ban's purge): drop them from the view. */
  onMessagesDeleted: (messageIds: string[]) => void;
  /** Something the viewer should know about (banned someone, muted…). */
  onNotice: (text: string) => void;
  reloadRoom: () => void;
  reloadMembers: () => void;
  reloadAdmin: () => void;
  /** Refetch the open reports (admins only; a no-op for others). */
  reloadReports: () => void;
  onRoomsChanged: () => void;
}

/** Apply one room event to the view. */
export function applyRoomEvent(ev: RoomEvent, fx: RoomEventEffects): void {
  const { me, roomName } = fx;
  switch (ev.__typename) {
    case 'MessageDeleted':
      fx.onMessagesDeleted([ev.messageId]);
      // An open report may point at it.
      fx.reloadReports();
      return;
    case 'MessagesPurged':
      fx.onMessagesDeleted(ev.messageIds);
      if (ev.messageIds.length)
        fx.onNotice(`${ev.messageIds.length} ${ev.messageIds.length === 1 ? 'message' : 'messages'} by ${ev.user.username} ${ev.messageIds.length === 1 ? 'was' : 'were'} removed.`);
      fx.reloadReports();
      return;
    case 'MessageReported': {
      const r = ev.report;
      const author = r.message?.author.username;
      fx.onNotice(`${r.reporter.username} reported ${author ? (author === me.username ? 'your message' : `a message by ${author}`) : 'a message'}. See Manage → Reports.`);
      fx.reloadReports();
      return;
    }
    case 'ReportDecided':
      fx.reloadReports();
      return;
    case 'MemberBanned':
      if (ev.ban.user.id === me.id) {
        fx.onEnded({
          code: 'BANNED',
          title: 'You are banned from this room',
          ejection: { by: ev.ban.bannedBy, reason: ev.ban.reason ?? null, expiresAt: ev.ban.expiresAt ?? null },
        });
        return;
      }
      fx.onNotice(
        `${ev.ban.user.username} was banned by ${ev.ban.bannedBy.username}${ev.ban.expiresAt ? ` until ${formatDateTime(ev.ban.expiresAt)}` : ''}.`,
      );
      break;
    case 'MemberRemoved':
      if (ev.user.id === me.id) {
        fx.onEnded(removedEnded(roomName, { by: ev.by, reason: ev.reason ?? null, expiresAt: null }));
        return;
      }
      break;
    case 'MemberLeft':
      if (ev.user.id === me.id) {
        fx.onEnded({ code: 'FORBIDDEN', title: `You left ${roomName}` });
        return;
      }
      break;
    case 'RoomDeleted':
      fx.onEnded({ code: 'NOT_FOUND', title: `${roomName} was deleted`, detail: 'The owner deleted this room.' });
      return;
    case 'MemberMuted':
      if (ev.member.user.id === me.id)
        fx.onNotice(ev.member.mutedUntil ? `You have been muted until ${formatDateTime(ev.member.mutedUntil)}.` : 'You have been muted by an admin.');
      break;
    case 'MemberUnmuted':
      if (ev.member.user.id === me.id) fx.onNotice('You are no longer muted.');
      break;
    case 'MemberRoleChanged':
      if (ev.member.user.id === me.id) fx.reloadRoom();
      break;
    case 'RoomUpdated':
      fx.reloadRoom();
      fx.onRoomsChanged();
      return;
    case 'JoinRequested':
      fx.reloadAdmin();
      return;
    default:
      break;
  }
  fx.reloadMembers();
  fx.reloadAdmin();
  fx.reloadRoom();
}

export function useRoomEvents({
  roomId,
  clients,
  onFatal,
  ...effects
}: RoomEventEffects & {
  roomId: string;
  clients: Clients;
  /** Called with a failure; returns true when it ended the room view (then no retry). */
  onFatal: (err: unknown) => boolean;
}): void {
  // Latest callbacks, read through a ref so the subscription is only restarted when the
  // room (or the connection) changes.
  const cb = useRef({ effects, onFatal });
  cb.current = { effects, onFatal };

  useEffect(() => {
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let live: { dispose: () => void } | null = null;
    const start = () => {
      if (cancelled) return;
      live = subscribe(clients.ws, RoomEventsSubscription, { roomId }, {
        next: (d) => applyRoomEvent(d.roomEvents, cb.current.effects),
        error: (err) => {
          if (cancelled || cb.current.onFatal(err)) return;
          retry = setTimeout(start, 2000);
        },
      });
    };
    start();
    // After a reconnect we may have missed events: refresh derived state.
    const off = clients.ws.on('connected', () => {
      cb.current.effects.reloadMembers();
      cb.current.effects.reloadRoom();
    });
    return () => {
      cancelled = true;
      clearTimeout(retry);
      off();
      live?.dispose();
    };
  }, [roomId, clients]);
}
