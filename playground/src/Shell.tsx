import { useCallback, useEffect, useRef, useState } from 'react';
import type { Clients, ConnectionState } from './client';
import { RoomList } from './RoomList';
import { RoomView } from './RoomView';
import { CreateRoomDialog } from './CreateRoom';
import { InvitePage } from './InvitePage';
import { Avatar } from './ui';
import { Icon } from './icons';
import { learn, now, useDocumentVisible, useViewerEvents, type LiveRooms, type RoomFacts, type ViewerEvent } from './live';
import { ViewerNotices, type ViewerNotice } from './ViewerNotices';

export interface Me {
  id: string;
  username: string;
}

/** An admin's answer to the viewer's request to join a room (from the live feed). */
export interface JoinDecision {
  kind: 'approved' | 'rejected';
  /** `now()` when it arrived. */
  at: number;
}

/** Why the open room should read itself again (see RoomView). */
export interface RoomReload {
  n: number;
  kind: 'admitted' | 'listed';
}

let noticeIds = 0;

function roomIdFromPath(): string | null {
  const m = /^\/rooms\/([^/]+)/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

/** `/invite/CODE`: an invite link being opened. */
function inviteCodeFromPath(): string | null {
  const m = /^\/invite\/([^/]+)/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

export function Shell({ me, clients, conn, onSignOut }: { me: Me; clients: Clients; conn: ConnectionState; onSignOut: () => void }) {
  const [roomId, setRoomId] = useState<string | null>(() => roomIdFromPath());
  const [inviteCode, setInviteCode] = useState<string | null>(() => inviteCodeFromPath());
  const [creating, setCreating] = useState(false);
  // Bumped after our own mutations so the room list refetches immediately.
  const [roomsVersion, setRoomsVersion] = useState(0);
  const bumpRooms = useCallback(() => setRoomsVersion((v) => v + 1), []);

  // What the live feed says about rooms (unread counts, newest messages, member counts),
  // newer than the list's last answer; see live.ts.
  const [live, setLive] = useState<LiveRooms>({});
  const [liveSince, setLiveSince] = useState<number | null>(null);
  const learnRoom = useCallback((id: string, facts: RoomFacts) => setLive((prev) => learn(prev, id, facts)), []);
  const [notices, setNotices] = useState<ViewerNotice[]>([]);
  const [decisions, setDecisions] = useState<Readonly<Record<string, JoinDecision>>>({});
  // Bumped to make the open room read itself again: the viewer was let in or added
  // ('admitted'), or the room changed in the list ('listed').
  const [roomReload, setRoomReload] = useState<RoomReload>({ n: 0, kind: 'listed' });
  const openId = useRef(roomId);
  openId.current = roomId;

  const notify = useCallback((n: Omit<ViewerNotice, 'id'>) => {
    // One notice per room and kind (the newest), and only a few at a time.
    setNotices((list) => [...list.filter((x) => x.roomId !== n.roomId || x.kind !== n.kind), { ...n, id: ++noticeIds }].slice(-4));
  }, []);
  const dismiss = useCallback((id: number) => setNotices((list) => list.filter((x) => x.id !== id)), []);
  const decide = useCallback((roomId: string, kind: JoinDecision['kind'] | null) => {
    setDecisions((prev) => {
      const next = { ...prev };
      if (kind) next[roomId] = { kind, at: now() };
      else delete next[roomId];
      return next;
    });
  }, []);

  const onViewerEvent = useCallback(
    (ev: ViewerEvent) => {
      const isOpen = (id: string) => openId.current === id;
      switch (ev.__typename) {
        case 'RoomActivity':
          learnRoom(ev.room.id, { unreadCount: ev.unreadCount, lastMessage: ev.lastMessage ?? null, memberCount: ev.room.memberCount, name: ev.room.name });
          return;
        case 'RoomListChanged':
          bumpRooms();
          if (isOpen(ev.roomId)) setRoomReload((v) => ({ n: v.n + 1, kind: 'listed' }));
          return;
        case 'JoinRequestApproved':
        case 'AddedToRoom': {
          const { id, name } = ev.room;
          const approved = ev.__typename === 'JoinRequestApproved';
          bumpRooms();
          if (approved) decide(id, 'approved');
          if (isOpen(id)) setRoomReload((v) => ({ n: v.n + 1, kind: 'admitted' }));
          notify({
            kind: approved ? 'approved' : 'added',
            roomId: id,
            text: approved ? `You were let into “${name}”.` : `You were added to “${name}”.`,
            open: !isOpen(id),
          });
          return;
        }
        case 'JoinRequestRejected':
          decide(ev.roomId, 'rejected');
          notify({ kind: 'rejected', roomId: ev.roomId, text: `Your request to join “${ev.name}” was declined.`, open: false });
          return;
        case 'RemovedFromRoom': {
          bumpRooms();
          learnRoom(ev.roomId, { unreadCount: null });
          // The open room says so itself, with who and why (its feeds end it).
          if (isOpen(ev.roomId)) return;
          const by = ev.by?.username ?? 'An admin';
          const what = ev.banned ? 'banned you from' : 'removed you from';
          notify({ kind: 'removed', roomId: ev.roomId, text: `${by} ${what} “${ev.name}”${ev.reason ? `: ${ev.reason}` : '.'}`, open: false });
          return;
        }
      }
    },
    [bumpRooms, decide, learnRoom, notify],
  );
  // Read the list again once the feed listens: what happened before is not in it.
  const onCaughtUp = useCallback(() => {
    setLiveSince(now());
    bumpRooms();
  }, [bumpRooms]);
  useViewerEvents(clients, { onEvent: onViewerEvent, onCaughtUp });

  // The room on screen is read as it is shown (markRead): clear its badge at once.
  const visible = useDocumentVisible();
  useEffect(() => {
    if (roomId && visible) learnRoom(roomId, { unreadCount: 0 });
  }, [roomId, visible, learnRoom]);

  useEffect(() => {
    const onPop = () => {
      setRoomId(roomIdFromPath());
      setInviteCode(inviteCodeFromPath());
    };
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const openRoom = useCallback((id: string | null) => {
    setRoomId(id);
    setInviteCode(null);
    const path = id ? `/rooms/${encodeURIComponent(id)}` : '/';
    if (location.pathname !== path) history.pushState(null, '', path);
  }, []);

  return (
    <div className={`app${roomId || inviteCode ? ' has-room' : ''}`}>
      <header className="topbar">
        <a className="brand" href="/" onClick={(e) => { e.preventDefault(); openRoom(null); }}>
          <span className="brand-mark">rc</span> roomcast
        </a>
        <div className="topbar-right">
          {roomId && conn === 'reconnecting' && (
            <span className="conn-state" role="status">Reconnecting…</span>
          )}
          <a className="btn btn-ghost btn-sm hide-narrow" href="/graphiql" target="_blank" rel="noreferrer">
            GraphiQL
          </a>
          <span className="me" data-testid="current-user">
            <Avatar name={me.username} size={28} />
            <span className="me-name">{me.username}</span>
          </span>
          <button type="button" className="btn btn-ghost btn-sm" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <ViewerNotices notices={notices} onDismiss={dismiss} onOpen={openRoom} />
      <div className="layout">
        <aside className="sidebar">
          <RoomList
            meId={me.id}
            selectedId={roomId}
            onSelect={openRoom}
            onCreate={() => setCreating(true)}
            version={roomsVersion}
            live={live}
            liveSince={liveSince}
          />
        </aside>
        <main className="main">
          {inviteCode && !roomId ? (
            <InvitePage
              key={inviteCode}
              code={inviteCode}
              onJoined={(id) => {
                bumpRooms();
                openRoom(id);
              }}
              onClose={() => openRoom(null)}
            />
          ) : roomId ? (
            <RoomView
              key={roomId}
              roomId={roomId}
              me={me}
              clients={clients}
              onClose={() => openRoom(null)}
              onRoomsChanged={bumpRooms}
              reloadSignal={roomReload}
              decision={decisions[roomId] ?? null}
              onRequested={() => decide(roomId, null)}
              onRoomData={learnRoom}
            />
          ) : (
            <div className="empty-state">
              <div className="empty-icon">
                <Icon name="chat" size={40} />
              </div>
              <h2>Welcome, {me.username}</h2>
              <p className="muted">Pick a room on the left, or start a new one.</p>
              <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
                Create a room
              </button>
            </div>
          )}
        </main>
      </div>
      {creating && (
        <CreateRoomDialog
          onClose={() => setCreating(false)}
          onCreated={(id) => {
            setCreating(false);
            bumpRooms();
            openRoom(id);
          }}
        />
      )}
    </div>
  );
}
