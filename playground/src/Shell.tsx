import { useCallback, useEffect, useState } from 'react';
import type { Clients, ConnectionState } from './client';
import { RoomList } from './RoomList';
import { RoomView } from './RoomView';
import { CreateRoomDialog } from './CreateRoom';
import { InvitePage } from './InvitePage';
import { Avatar } from './ui';
import { Icon } from './icons';

export interface Me {
  id: string;
  username: string;
}

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
      <div className="layout">
        <aside className="sidebar">
          <RoomList selectedId={roomId} onSelect={openRoom} onCreate={() => setCreating(true)} version={roomsVersion} />
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
