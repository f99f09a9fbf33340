import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useClient, useQuery } from 'urql';
import type { Clients } from './client';
import { subscribe } from './client';
import type { Me } from './Shell';
import type { MessageFieldsFragment, RoomEventsLiveSubscription, RoomSummaryFieldsFragment } from './gql/graphql';
import {
  DeleteMessageMutation,
  JoinRoomMutation,
  RequestToJoinMutation,
  RoomAdminQuery,
  RoomMembersQuery,
  RoomMessagesQuery,
  RoomMessagesSubscription,
  RoomEventsSubscription,
  RoomQuery,
  SendMessageMutation,
} from './operations';
import { toAppError, type AppError } from './errors';
import { Alert, Avatar, Spinner, TypeBadge } from './ui';
import { formatDateTime, formatDay, formatTime, isAdmin } from './util';
import { RoomPanel } from './RoomPanel';
import { Icon } from './icons';

type Msg = MessageFieldsFragment;
type Room = RoomSummaryFieldsFragment;
type RoomEvent = RoomEventsLiveSubscription['roomEvents'];

export interface Ended {
  code: string;
  title: string;
  detail?: string;
}

const ENDING_CODES = new Set(['BANNED', 'FORBIDDEN', 'NOT_FOUND', 'UNAUTHENTICATED']);

function endedFromError(e: AppError, roomName: string): Ended {
  switch (e.code) {
    case 'BANNED':
      return { code: 'BANNED', title: `You were banned from ${roomName}`, detail: /reason/i.test(e.raw) ? e.raw : undefined };
    case 'NOT_FOUND':
      return { code: 'NOT_FOUND', title: `${roomName} was deleted`, detail: 'This room no longer exists.' };
    case 'UNAUTHENTICATED':
      return { code: 'UNAUTHENTICATED', title: 'Your session has expired', detail: 'Please sign out and sign in again.' };
    default:
      return { code: 'FORBIDDEN', title: `You are no longer a member of ${roomName}`, detail: e.message };
  }
}

export function RoomView({
  roomId,
  me,
  clients,
  onClose,
  onRoomsChanged,
}: {
  roomId: string;
  me: Me;
  clients: Clients;
  onClose: () => void;
  onRoomsChanged: () => void;
}) {
  const [{ data, fetching, error }, refetchRoom] = useQuery({ query: RoomQuery, variables: { id: roomId }, requestPolicy: 'network-only' });
  const [ended, setEnded] = useState<Ended | null>(null);
  const room = data?.room ?? null;
  const reloadRoom = useCallback(() => refetchRoom({ requestPolicy: 'network-only' }), [refetchRoom]);

  // While not a member (e.g. waiting for a join request to be approved), poll.
  const member = !!room?.viewerRole;
  useEffect(() => {
    if (member || ended) return;
    const t = setInterval(reloadRoom, 3000);
    return () => clearInterval(t);
  }, [member, ended, reloadRoom]);

  const end = useCallback(
    (e: Ended) => {
      setEnded((prev) => prev ?? e);
      onRoomsChanged();
    },
    [onRoomsChanged],
  );

  if (ended) {
    return (
      <section className="room ended-view" data-testid="room-ended" data-code={ended.code}>
        <div className="empty-state">
          <div className={`empty-icon${ended.code === 'BANNED' ? ' danger' : ''}`}>
            <Icon name={ended.code === 'BANNED' ? 'ban' : ended.code === 'NOT_FOUND' ? 'trash' : 'door'} size={40} />
          </div>
          <h2>{ended.title}</h2>
          {ended.detail && <p className="muted">{ended.detail}</p>}
          <button type="button" className="btn btn-primary" onClick={onClose}>
            Back to rooms
          </button>
        </div>
      </section>
    );
  }

  if (!room) {
    if (fetching && !data) {
      return (
        <section className="room">
          <div className="center-screen">
            <Spinner label="Loading room" />
          </div>
        </section>
      );
    }
    const err = error ? toAppError(error) : null;
    return (
      <section className="room">
        <div className="empty-state">
          <div className="empty-icon">
            <Icon name="search" size={40} />
          </div>
          <h2>{err?.code === 'BANNED' ? 'You are banned from this room' : 'Room not found'}</h2>
          <p className="muted">{err && err.code !== 'NOT_FOUND' ? err.message : 'It may have been deleted, or it is private.'}</p>
          <button type="button" className="btn" onClick={onClose}>
            Back to rooms
          </button>
        </div>
      </section>
    );
  }

  if (!room.viewerRole) {
    return <JoinPanel room={room} onJoined={() => { reloadRoom(); onRoomsChanged(); }} onClose={onClose} />;
  }

  return <ChatRoom room={room} me={me} clients={clients} onEnded={end} onClose={onClose} reloadRoom={reloadRoom} onRoomsChanged={onRoomsChanged} />;
}

function RoomHeader({ room, onClose, children }: { room: Room; onClose: () => void; children?: React.ReactNode }) {
  return (
    <header className="room-header">
      <button type="button" className="icon-btn back-btn" aria-label="Back to rooms" onClick={onClose}>
        ←
      </button>
      <div className="room-title">
        <div className="room-title-row">
          <h1 data-testid="room-title">{room.name}</h1>
          <TypeBadge type={room.type} />
        </div>
        <div className="room-sub">
          {room.topic && <span className="room-topic">{room.topic}</span>}
          <span className="room-count" data-testid="member-count">
            {room.memberCount} {room.memberCount === 1 ? 'member' : 'members'}
            {room.maxUsers ? ` of ${room.maxUsers}` : ''}
          </span>
        </div>
      </div>
      <div className="room-header-actions">{children}</div>
    </header>
  );
}

function JoinPanel({ room, onJoined, onClose }: { room: Room; onJoined: () => void; onClose: () => void }) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [requested, setRequested] = useState(false);
  const [note, setNote] = useState('');

  const join = async () => {
    setBusy(true);
    setErr(null);
    const res = await client.mutation(JoinRoomMutation, { roomId: room.id }).toPromise();
    setBusy(false);
    if (res.data) onJoined();
    else setErr(toAppError(res.error).message);
  };
  const request = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    const res = await client.mutation(RequestToJoinMutation, { roomId: room.id, message: note.trim() || null }).toPromise();
    setBusy(false);
    if (res.data) setRequested(true);
    else {
      const ae = toAppError(res.error);
      if (ae.code === 'CONFLICT') setRequested(true);
      else setErr(ae.message);
    }
  };

  return (
    <section className="room">
      <RoomHeader room={room} onClose={onClose} />
      <div className="join-panel">
        <div className="join-card">
          <h2>{room.name}</h2>
          {room.topic && <p>{room.topic}</p>}
          <p className="muted small">
            Created by {room.owner.username} · {room.memberCount} {room.memberCount === 1 ? 'member' : 'members'}
            {room.maxUsers ? ` (max ${room.maxUsers})` : ''}
          </p>
          {room.type === 'RESTRICTED' ? (
            requested ? (
              <Alert kind="info">Request sent. You will get in as soon as an admin approves it.</Alert>
            ) : (
              <form onSubmit={request} className="stack">
                <p className="muted">This room is restricted: an admin has to approve your request.</p>
                <label className="sr-only" htmlFor="join-note">
                  Message to the admins
                </label>
                <input id="join-note" placeholder="Say why you'd like to join (optional)" value={note} onChange={(e) => setNote(e.target.value)} />
                <button type="submit" className="btn btn-primary" disabled={busy}>
                  Request to join
                </button>
              </form>
            )
          ) : (
            <button type="button" className="btn btn-primary" onClick={join} disabled={busy}>
              {busy ? 'Joining…' : 'Join room'}
            </button>
          )}
          {err && <Alert>{err}</Alert>}
        </div>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------- messages

interface MsgState {
  list: Msg[];
  deleted: Set<string>;
}

type MsgAction = { type: 'add'; msgs: Msg[] } | { type: 'delete'; id: string };

function msgReducer(state: MsgState, action: MsgAction): MsgState {
  switch (action.type) {
    case 'add': {
      const byId = new Map(state.list.map((m) => [m.id, m]));
      let changed = false;
      for (const m of action.msgs) {
        if (state.deleted.has(m.id) || byId.has(m.id)) continue;
        byId.set(m.id, m);
        changed = true;
      }
      if (!changed) return state;
      const list = [...byId.values()].sort((a, b) => a.seq - b.seq);
      return { ...state, list };
    }
    case 'delete': {
      const deleted = new Set(state.deleted);
      deleted.add(action.id);
      return { list: state.list.filter((m) => m.id !== action.id), deleted };
    }
  }
}

function ChatRoom({
  room,
  me,
  clients,
  onEnded,
  onClose,
  reloadRoom,
  onRoomsChanged,
}: {
  room: Room;
  me: Me;
  clients: Clients;
  onEnded: (e: Ended) => void;
  onClose: () => void;
  reloadRoom: () => void;
  onRoomsChanged: () => void;
}) {
  const client = useClient();
  const roomId = room.id;
  const [state, dispatch] = useReducer(msgReducer, { list: [], deleted: new Set<string>() });
  const [initialLoaded, setInitialLoaded] = useState(false);
  const [older, setOlder] = useState<{ hasMore: boolean; cursor: string | null; loading: boolean }>({ hasMore: false, cursor: null, loading: false });
  const [liveProblem, setLiveProblem] = useState<string | null>(null);
  const [panelOpen, setPanelOpen] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const admin = isAdmin(room.viewerRole);

  const [membersRes, refetchMembers] = useQuery({ query: RoomMembersQuery, variables: { roomId }, requestPolicy: 'network-only' });
  const [adminRes, refetchAdmin] = useQuery({ query: RoomAdminQuery, variables: { id: roomId }, pause: !admin, requestPolicy: 'network-only' });
  const reloadMembers = useCallback(() => refetchMembers({ requestPolicy: 'network-only' }), [refetchMembers]);
  const reloadAdmin = useCallback(() => {
    if (admin) refetchAdmin({ requestPolicy: 'network-only' });
  }, [admin, refetchAdmin]);
  const members = membersRes.data?.roomMembers ?? [];
  const meMember = members.find((m) => m.user.id === me.id);

  const roomName = room.name;
  // Latest callbacks, read through a ref so the live subscriptions are only
  // restarted when the room (or the connection) changes.
  const cb = useRef({ onEnded, reloadRoom, reloadMembers, roomName });
  cb.current = { onEnded, reloadRoom, reloadMembers, roomName };
  const fail = useCallback((err: unknown) => {
    const e = toAppError(err);
    if (ENDING_CODES.has(e.code)) {
      cb.current.onEnded(endedFromError(e, cb.current.roomName));
      return true;
    }
    return false;
  }, []);

  // ---- live messages: history + subscription resuming from the last cursor
  useEffect(() => {
    let cancelled = false;
    let live: { variables: { roomId: string; after?: string | null }; dispose: () => void } | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let lastSeq = -Infinity;
    let lastCursor: string | null = null;
    const timers: ReturnType<typeof setTimeout>[] = [];

    const take = (msgs: Msg[]) => {
      for (const m of msgs) {
        if (m.seq > lastSeq) {
          lastSeq = m.seq;
          lastCursor = m.cursor;
        }
      }
      // graphql-ws re-sends these variables when it re-subscribes after a
      // reconnect, so the server replays exactly what we have not seen yet.
      if (live) live.variables.after = lastCursor;
      if (msgs.length) dispatch({ type: 'add', msgs });
    };

    const fetchLatest = async (initial: boolean) => {
      const res = await client.query(RoomMessagesQuery, { roomId, last: 50 }, { requestPolicy: 'network-only' }).toPromise();
      if (cancelled) return;
      if (res.data) {
        const conn = res.data.messages;
        take(conn.nodes);
        if (initial) {
          setOlder({ hasMore: conn.pageInfo.hasPreviousPage, cursor: conn.pageInfo.startCursor ?? conn.nodes[0]?.cursor ?? null, loading: false });
          setInitialLoaded(true);
        }
      } else if (res.error && !fail(res.error) && initial) {
        setLiveProblem(toAppError(res.error).message);
        setInitialLoaded(true);
      }
    };

    const start = () => {
      if (cancelled) return;
      live = subscribe(clients.ws, RoomMessagesSubscription, { roomId, after: lastCursor }, {
        next: (d) => {
          setLiveProblem(null);
          take([d.roomMessages]);
        },
        error: (err) => {
          if (cancelled || fail(err)) return;
          setLiveProblem(`Live updates interrupted: ${toAppError(err).message}`);
          retry = setTimeout(start, 2000);
        },
        complete: () => {
          // The server ended the stream without an error: check we still belong here.
          if (!cancelled) cb.current.reloadRoom();
        },
      });
    };

    // Catch up after every (re)connection too (covers an empty room where
    // there was no cursor to resume from).
    const offConnected = clients.ws.on('connected', () => {
      setLiveProblem(null);
      timers.push(setTimeout(() => void fetchLatest(false), 250));
    });

    void (async () => {
      await fetchLatest(true);
      if (cancelled) return;
      start();
      if (lastCursor === null) timers.push(setTimeout(() => void fetchLatest(false), 600));
    })();

    return () => {
      cancelled = true;
      clearTimeout(retry);
      timers.forEach(clearTimeout);
      offConnected();
      live?.dispose();
    };
  }, [roomId, clients, client, fail]);

  // ---- moderation / membership events
  const onEvent = useRef<(e: RoomEvent) => void>(() => {});
  onEvent.current = (ev: RoomEvent) => {
    switch (ev.__typename) {
      case 'MessageDeleted':
        dispatch({ type: 'delete', id: ev.messageId });
        return;
      case 'MemberBanned':
        if (ev.ban.user.id === me.id) {
          onEnded({
            code: 'BANNED',
            title: `You were banned from ${roomName}`,
            detail: `Banned by ${ev.ban.bannedBy.username}${ev.ban.reason ? ` — reason: ${ev.ban.reason}` : ''}.`,
          });
          return;
        }
        setNotice(`${ev.ban.user.username} was banned by ${ev.ban.bannedBy.username}.`);
        break;
      case 'MemberRemoved':
        if (ev.user.id === me.id) {
          onEnded({ code: 'FORBIDDEN', title: `You were removed from ${roomName}`, detail: `Removed by ${ev.by.username}.` });
          return;
        }
        break;
      case 'MemberLeft':
        if (ev.user.id === me.id) {
          onEnded({ code: 'FORBIDDEN', title: `You left ${roomName}` });
          return;
        }
        break;
      case 'RoomDeleted':
        onEnded({ code: 'NOT_FOUND', title: `${roomName} was deleted`, detail: 'The owner deleted this room.' });
        return;
      case 'MemberMuted':
        if (ev.member.user.id === me.id)
          setNotice(ev.member.mutedUntil ? `You have been muted until ${formatDateTime(ev.member.mutedUntil)}.` : 'You have been muted by an admin.');
        break;
      case 'MemberUnmuted':
        if (ev.member.user.id === me.id) setNotice('You are no longer muted.');
        break;
      case 'MemberRoleChanged':
        if (ev.member.user.id === me.id) reloadRoom();
        break;
      case 'RoomUpdated':
        reloadRoom();
        onRoomsChanged();
        return;
      case 'JoinRequested':
        reloadAdmin();
        return;
      default:
        break;
    }
    reloadMembers();
    reloadAdmin();
    reloadRoom();
  };

  useEffect(() => {
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let live: { dispose: () => void } | null = null;
    const start = () => {
      if (cancelled) return;
      live = subscribe(clients.ws, RoomEventsSubscription, { roomId }, {
        next: (d) => onEvent.current(d.roomEvents),
        error: (err) => {
          if (cancelled || fail(err)) return;
          retry = setTimeout(start, 2000);
        },
      });
    };
    start();
    // After a reconnect we may have missed events: refresh derived state.
    const off = clients.ws.on('connected', () => {
      cb.current.reloadMembers();
      cb.current.reloadRoom();
    });
    return () => {
      cancelled = true;
      clearTimeout(retry);
      off();
      live?.dispose();
    };
  }, [roomId, clients, fail]);

  // ---- scrolling
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const prevHeight = useRef<number | null>(null);
  const lastId = state.list[state.list.length - 1]?.id;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (prevHeight.current !== null) {
      // Older messages were prepended: keep the view where it was.
      el.scrollTop += el.scrollHeight - prevHeight.current;
      prevHeight.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [state.list]);

  const loadOlder = useCallback(async () => {
    if (!older.hasMore || older.loading || !older.cursor) return;
    setOlder((o) => ({ ...o, loading: true }));
    const res = await client.query(RoomMessagesQuery, { roomId, last: 50, before: older.cursor }, { requestPolicy: 'network-only' }).toPromise();
    if (res.data) {
      const conn = res.data.messages;
      prevHeight.current = scroller.current?.scrollHeight ?? null;
      if (conn.nodes.length) dispatch({ type: 'add', msgs: conn.nodes });
      else prevHeight.current = null;
      setOlder({ hasMore: conn.pageInfo.hasPreviousPage && conn.nodes.length > 0, cursor: conn.pageInfo.startCursor ?? conn.nodes[0]?.cursor ?? null, loading: false });
    } else {
      setOlder((o) => ({ ...o, loading: false }));
      setLiveProblem(toAppError(res.error).message);
    }
  }, [older, client, roomId]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 60) void loadOlder();
  };

  // ---- actions
  const deleteMessage = async (id: string) => {
    const res = await client.mutation(DeleteMessageMutation, { messageId: id }).toPromise();
    if (res.data) dispatch({ type: 'delete', id });
    else setNotice(toAppError(res.error).message);
  };

  const onSent = (m: Msg) => {
    stick.current = true;
    dispatch({ type: 'add', msgs: [m] });
  };

  return (
    <section className={`room${panelOpen ? ' panel-open' : ''}`}>
      <div className="room-main">
        <RoomHeader room={room} onClose={onClose}>
          <button
            type="button"
            className={`btn btn-sm${panelOpen ? ' btn-active' : ''}`}
            aria-expanded={panelOpen}
            onClick={() => setPanelOpen((o) => !o)}
          >
            {admin ? 'Manage' : 'Members'}
          </button>
        </RoomHeader>
        {liveProblem && <Alert kind="warn" onClose={() => setLiveProblem(null)}>{liveProblem}</Alert>}
        {notice && (
          <Alert kind="info" onClose={() => setNotice(null)}>
            <span data-testid="room-notice">{notice}</span>
          </Alert>
        )}
        <div className="messages" ref={scroller} onScroll={onScroll} data-testid="messages" aria-live="polite">
          {older.hasMore && (
            <div className="load-older">
              <button type="button" className="btn btn-ghost btn-sm" onClick={() => void loadOlder()} disabled={older.loading}>
                {older.loading ? 'Loading…' : 'Load older messages'}
              </button>
            </div>
          )}
          {!initialLoaded ? (
            <div className="center-screen">
              <Spinner label="Loading messages" />
            </div>
          ) : state.list.length === 0 ? (
            <div className="no-messages muted">
              <Icon name="wave" size={28} />
              <div>No messages yet. Say hello!</div>
            </div>
          ) : (
            <MessageList list={state.list} me={me} canDeleteAny={admin} onDelete={deleteMessage} />
          )}
          <span data-last-id={lastId} hidden />
        </div>
        <Composer roomId={roomId} muted={!!meMember?.muted} mutedUntil={meMember?.mutedUntil ?? null} onSent={onSent} onFatal={fail} />
      </div>
      {panelOpen && (
        <RoomPanel
          room={room}
          me={me}
          members={members}
          admin={adminRes.data?.room ?? null}
          onClose={() => setPanelOpen(false)}
          reload={() => {
            reloadMembers();
            reloadAdmin();
            reloadRoom();
          }}
          onRoomsChanged={onRoomsChanged}
          onLeftRoom={() => {
            onRoomsChanged();
            onClose();
          }}
        />
      )}
    </section>
  );
}

function MessageList({ list, me, canDeleteAny, onDelete }: { list: Msg[]; me: Me; canDeleteAny: boolean; onDelete: (id: string) => void }) {
  let prev: Msg | undefined;
  const out: React.ReactNode[] = [];
  for (const m of list) {
    const day = formatDay(m.createdAt);
    if (!prev || formatDay(prev.createdAt) !== day) {
      out.push(
        <div className="day-sep" key={`day-${m.id}`}>
          <span>{day}</span>
        </div>,
      );
      prev = undefined;
    }
    const grouped = !!prev && prev.author.id === m.author.id && new Date(m.createdAt).getTime() - new Date(prev.createdAt).getTime() < 5 * 60_000;
    const mine = m.author.id === me.id;
    out.push(
      <article
        key={m.id}
        className={`msg${mine ? ' mine' : ''}${grouped ? ' grouped' : ''}`}
        data-testid="message"
        data-message-id={m.id}
        data-author={m.author.username}
      >
        {!mine && <div className="msg-avatar">{!grouped && <Avatar name={m.author.username} size={34} />}</div>}
        <div className="msg-content">
          {!grouped && (
            <div className="msg-meta">
              <span className="msg-author">{mine ? 'You' : m.author.username}</span>
              <time dateTime={m.createdAt} title={formatDateTime(m.createdAt)}>
                {formatTime(m.createdAt)}
              </time>
            </div>
          )}
          <div className="msg-bubble">
            <p className="msg-body" data-testid="message-body">{m.body}</p>
            {(canDeleteAny || mine) && (
              <button type="button" className="msg-delete" aria-label="Delete message" title="Delete message" onClick={() => onDelete(m.id)}>
                <Icon name="trash" size={14} />
              </button>
            )}
          </div>
        </div>
      </article>,
    );
    prev = m;
  }
  return <>{out}</>;
}

function Composer({
  roomId,
  muted,
  mutedUntil,
  onSent,
  onFatal,
}: {
  roomId: string;
  muted: boolean;
  mutedUntil: string | null;
  onSent: (m: Msg) => void;
  onFatal: (err: unknown) => boolean;
}) {
  const client = useClient();
  const [body, setBody] = useState('');
  const [err, setErr] = useState<AppError | null>(null);
  // Sends are queued so quick successive messages keep their order and none is dropped.
  const queue = useRef<Promise<void>>(Promise.resolve());
  const [pending, setPending] = useState(0);

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    const text = body.trim();
    if (!text) return;
    setBody('');
    setPending((n) => n + 1);
    queue.current = queue.current.then(async () => {
      const res = await client.mutation(SendMessageMutation, { roomId, body: text }).toPromise();
      setPending((n) => n - 1);
      if (res.data) {
        setErr(null);
        onSent(res.data.sendMessage);
      } else {
        // Give the text back so it is not lost.
        setBody((cur) => (cur ? cur : text));
        if (!onFatal(res.error)) setErr(toAppError(res.error));
      }
    });
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form className="composer" onSubmit={send} aria-label="Send a message">
      {err && (
        <div className={`composer-error${err.code === 'MUTED' ? ' is-muted' : ''}`} role="alert" data-testid="send-error" data-code={err.code}>
          {err.code === 'MUTED' && <Icon name="mute" />}
          {err.message}
          <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => setErr(null)}>
            ×
          </button>
        </div>
      )}
      {muted && !err && <div className="composer-hint"><Icon name="mute" /> You are muted{mutedUntil ? ` until ${formatDateTime(mutedUntil)}` : ''}.</div>}
      <div className="composer-row">
        <label htmlFor="composer-input" className="sr-only">
          Message
        </label>
        <textarea
          id="composer-input"
          rows={1}
          placeholder="Write a message…"
          value={body}
          maxLength={4000}
          onChange={(e) => setBody(e.target.value)}
          onKeyDown={onKey}
        />
        <button type="submit" className="btn btn-primary" disabled={!body.trim()} aria-busy={pending > 0}>
          Send
        </button>
      </div>
    </form>
  );
}
