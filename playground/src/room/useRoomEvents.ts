// The live `roomEvents` subscription of one room (moderation and membership) and what
// each event does to the room view: drop deleted (or purged) messages, end the view when
// the viewer is banned or removed or the room is deleted, put a line in the timeline
// (joins, leaves, kicks, bans, renames, purges), show who is typing and who is online, show a notice,
// refetch what changed (reports reach admins only).
import { useEffect, useRef } from 'react';
import type { Clients } from '../client';
import { subscribe } from '../client';
import type { RoomEventsLiveSubscription } from '../gql/graphql';
import { RoomEventsSubscription } from '../operations';
import type { Me } from '../Shell';
import { formatDateTime } from '../util';
import { removedEnded, type Ended } from './ended';
import type { NewSystemLine } from './useRoomMessages';

export type RoomEvent = RoomEventsLiveSubscription['roomEvents'];

/** What room events may do to the view. */
export interface RoomEventEffects {
  me: Me;
  roomName: string;
  /** The viewer can no longer be in the room. */
  onEnded: (e: Ended) => void;
  /** Messages were erased (one deletion, or a ban's purge): drop them from the view. */
  onMessagesDeleted: (messageIds: string[]) => void;
  /** Something the viewer should know about (muted, a report…). */
  onNotice: (text: string) => void;
  /** A line for the timeline: someone joined, left, was removed, banned… */
  onSystem: (line: NewSystemLine) => void;
  /** Someone (never the viewer) started or stopped typing, or can no longer type here. */
  onTyping: (user: { id: string; username: string }, typing: boolean) => void;
  /** Someone came online in the room or went offline. */
  onPresence: (user: { id: string; username: string }, online: boolean) => void;
  reloadRoom: () => void;
  reloadMembers: () => void;
  reloadAdmin: () => void;
  /** Refetch the open reports (admins only; a no-op for others). */
  reloadReports: () => void;
  onRoomsChanged: () => void;
}

/** What the view knew of the room when the events began, kept up to date by them. */
export interface EventsSeen {
  /** The room's name, to tell a rename from other settings changes. */
  roomName: string;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Apply one room event to the view. */
export function applyRoomEvent(ev: RoomEvent, fx: RoomEventEffects, seen: EventsSeen): void {
  const { me, roomName } = fx;
  /** A person as the subject of a line: "You" for the viewer. */
  const subject = (u: { id: string; username: string }) => (u.id === me.id ? 'You' : u.username);
  switch (ev.__typename) {
    case 'TypingChanged':
      if (ev.user.id !== me.id) fx.onTyping(ev.user, ev.typing);
      return;
    case 'ReadMarkerMoved':
      // Someone's read position moved: nothing on screen shows it.
      return;
    case 'PresenceChanged':
      fx.onPresence(ev.user, ev.online);
      return;
    case 'MessageDeleted':
      fx.onMessagesDeleted([ev.messageId]);
      // An open report may point at it.
      fx.reloadReports();
      return;
    case 'MessagesPurged':
      fx.onMessagesDeleted(ev.messageIds);
      if (ev.messageIds.length)
        fx.onSystem({
          kind: 'purge',
          text: `${plural(ev.messageIds.length, 'message', 'messages')} by ${ev.user.username} ${ev.messageIds.length === 1 ? 'was' : 'were'} removed`,
        });
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
      fx.onTyping(ev.ban.user, false);
      fx.onSystem({
        kind: 'ban',
        text: `${subject(ev.ban.bannedBy)} banned ${ev.ban.user.username}${ev.ban.expiresAt ? ` until ${formatDateTime(ev.ban.expiresAt)}` : ''}${ev.ban.reason ? `: ${ev.ban.reason}` : ''}`,
      });
      break;
    case 'MemberUnbanned':
      fx.onSystem({ kind: 'unban', text: `${ev.user.username} was unbanned` });
      break;
    case 'MemberRemoved':
      if (ev.user.id === me.id) {
        fx.onEnded(removedEnded(roomName, { by: ev.by, reason: ev.reason ?? null, expiresAt: null }));
        return;
      }
      fx.onTyping(ev.user, false);
      fx.onSystem({ kind: 'kick', text: `${subject(ev.by)} removed ${ev.user.username}${ev.reason ? `: ${ev.reason}` : ''}` });
      break;
    case 'MemberLeft':
      if (ev.user.id === me.id) {
        fx.onEnded({ code: 'FORBIDDEN', title: `You left ${roomName}` });
        return;
      }
      fx.onTyping(ev.user, false);
      fx.onSystem({ kind: 'leave', text: `${ev.user.username} left the room` });
      break;
    case 'MemberJoined':
      fx.onSystem({ kind: 'join', text: `${subject(ev.member.user)} joined the room` });
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
      // The event does not say who made the change: the line says what changed.
      if (ev.room.name !== seen.roomName) fx.onSystem({ kind: 'rename', text: `The room was renamed to “${ev.room.name}”` });
      seen.roomName = ev.room.name;
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
    const seen: EventsSeen = { roomName: cb.current.effects.roomName };
    const start = () => {
      if (cancelled) return;
      live = subscribe(clients.ws, RoomEventsSubscription, { roomId }, {
        next: (d) => applyRoomEvent(d.roomEvents, cb.current.effects, seen),
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
