// One room: loads it, shows the join screen to non-members (or, to a banned user, who
// banned them, why and until when), the chat to members, and an "ended" screen once the
// viewer can no longer be there (banned, removed, room deleted).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from 'urql';
import type { Clients } from './client';
import type { JoinDecision, Me, RoomReload } from './Shell';
import type { RoomFacts } from './live';
import type { RoomQuery as RoomQueryResult } from './gql/graphql';
import { RoomAdminQuery, RoomInvitesQuery, RoomMembersQuery, RoomQuery, RoomReportsQuery } from './operations';
import { toAppError, type AppError } from './errors';
import { Alert, Spinner } from './ui';
import { isAdmin } from './util';
import { RoomPanel } from './RoomPanel';
import { Icon } from './icons';
import { endedFromError, isEnding, mergeEnded, type Ended } from './room/ended';
import { RoomHeader } from './room/RoomHeader';
import { JoinPanel } from './room/JoinPanel';
import { useRoomMessages, type Msg } from './room/useRoomMessages';
import { useRoomEvents } from './room/useRoomEvents';
import { MessageList, type MessageListHandle } from './room/MessageList';
import { Composer } from './room/Composer';
import { ReportDialog } from './room/ReportDialog';
import { DeleteMessageDialog } from './room/DeleteMessageDialog';
import { BannedCard } from './room/BannedCard';
import { TypingIndicator, useTypists } from './room/typing';
import { useMarkRead } from './room/useMarkRead';

type Room = NonNullable<RoomQueryResult['room']>;
type Ban = NonNullable<Room['viewerBan']>;

/** The viewer's ban as the banned view shows it. */
function bannedEnded(ban: Ban): Ended {
  return {
    code: 'BANNED',
    title: 'You are banned from this room',
    ejection: { by: ban.bannedBy, reason: ban.reason ?? null, expiresAt: ban.expiresAt ?? null },
  };
}

export type { Ended };

export function RoomView({
  roomId,
  me,
  clients,
  onClose,
  onRoomsChanged,
  reloadSignal,
  decision,
  onRequested,
  onRoomData,
}: {
  roomId: string;
  me: Me;
  clients: Clients;
  onClose: () => void;
  onRoomsChanged: () => void;
  /** Bumped when the live feed says the room changed for the viewer (let in, added, listed). */
  reloadSignal: RoomReload;
  /** An admin's answer to the viewer's request to join this room, if one came. */
  decision: JoinDecision | null;
  /** The viewer asked to join (again). */
  onRequested: () => void;
  /** What the room says of itself, for the room list (so both show the same). */
  onRoomData: (id: string, facts: RoomFacts) => void;
}) {
  const [{ data, fetching, error }, refetchRoom] = useQuery({ query: RoomQuery, variables: { id: roomId }, requestPolicy: 'network-only' });
  const [ended, setEnded] = useState<Ended | null>(null);
  const room = data?.room ?? null;
  const member = !!room?.viewerRole;
  // A banned user still sees the room (and so would be offered "Join room"): the room
  // comes with the viewer's own ban, which says who banned them, why and until when.
  const viewerBan = room?.viewerBan ?? null;
  const reloadRoom = useCallback(() => refetchRoom({ requestPolicy: 'network-only' }), [refetchRoom]);

  // The live feed says when the viewer is let in (or added): read the room again then. A
  // change in the list only matters to the join panel (a member's view has its own feeds,
  // and a banned or ended view stays as it is until the viewer leaves it).
  const firstSignal = useRef(reloadSignal.n);
  const showsJoinPanel = !!room && !member && !viewerBan && !ended;
  const joinPanelRef = useRef(showsJoinPanel);
  joinPanelRef.current = showsJoinPanel;
  useEffect(() => {
    if (reloadSignal.n === firstSignal.current) return;
    if (reloadSignal.kind === 'admitted' || joinPanelRef.current) reloadRoom();
  }, [reloadSignal, reloadRoom]);
  // While not a member nothing live covers this room: read it again after a reconnect
  // (the feed may have missed something), when the page is shown again, and when a timed
  // ban ends (a ban lifted early is seen on the next of these).
  const banEnds = viewerBan?.expiresAt ?? null;
  useEffect(() => {
    if (member || ended) return;
    const off = clients.ws.on('connected', reloadRoom);
    const onVisible = () => {
      if (document.visibilityState === 'visible') reloadRoom();
    };
    document.addEventListener('visibilitychange', onVisible);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (banEnds) {
      const wait = Date.parse(banEnds) - Date.now() + 1000;
      if (wait > 0 && wait < 2 ** 31 - 1) timer = setTimeout(reloadRoom, wait);
    }
    return () => {
      off();
      document.removeEventListener('visibilitychange', onVisible);
      clearTimeout(timer);
    };
  }, [member, ended, reloadRoom, clients, banEnds]);

  // The list shows what the room header shows.
  const roomName = room?.name;
  const memberCount = room?.memberCount;
  useEffect(() => {
    if (roomName !== undefined && memberCount !== undefined) onRoomData(roomId, { name: roomName, memberCount });
  }, [roomId, roomName, memberCount, onRoomData]);

  // A ban's (or a kick's) feed errors and its event race each other: keep whichever says
  // more (see mergeEnded), not just the first.
  const end = useCallback(
    (e: Ended) => {
      setEnded((prev) => mergeEnded(prev, e));
      onRoomsChanged();
    },
    [onRoomsChanged],
  );

  // The chat was open and a reload of the room (e.g. on the first graphql-ws connection)
  // says the viewer is banned now. That reload unmounts the chat, and with it the live
  // feeds whose BANNED errors would have ended the view: end it here instead, with what the
  // ban says (from this very render, so the join screen never shows in between).
  const wasMember = useRef(false);
  if (member) wasMember.current = true;
  const bannedNow = !!viewerBan && !member && wasMember.current;
  useEffect(() => {
    if (viewerBan && bannedNow) end(bannedEnded(viewerBan));
  }, [viewerBan, bannedNow, end]);
  const shownEnded = ended ?? (viewerBan && bannedNow ? bannedEnded(viewerBan) : null);

  if (shownEnded) {
    return (
      <section className="room ended-view" data-testid="room-ended" data-code={shownEnded.code}>
        {shownEnded.code === 'BANNED' ? (
          <BannedCard roomName={room?.name ?? ''} ejection={shownEnded.ejection} onClose={onClose} />
        ) : (
          <div className="empty-state" role="status">
            <div className="empty-icon">
              <Icon name={shownEnded.code === 'NOT_FOUND' ? 'trash' : 'door'} size={40} />
            </div>
            <h2>{shownEnded.title}</h2>
            {shownEnded.detail && <p className="muted">{shownEnded.detail}</p>}
            <button type="button" className="btn btn-primary" onClick={onClose}>
              Back to rooms
            </button>
          </div>
        )}
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
    if (err?.code === 'BANNED') {
      return (
        <section className="room ended-view" data-code="BANNED">
          <BannedCard roomName="" ejection={err.ejection} onClose={onClose} />
        </section>
      );
    }
    return (
      <section className="room">
        <div className="empty-state">
          <div className="empty-icon">
            <Icon name="search" size={40} />
          </div>
          <h2>Room not found</h2>
          <p className="muted">{err && err.code !== 'NOT_FOUND' ? err.message : 'It may have been deleted, or it is private.'}</p>
          <button type="button" className="btn" onClick={onClose}>
            Back to rooms
          </button>
        </div>
      </section>
    );
  }

  if (!room.viewerRole) {
    if (viewerBan) {
      return (
        <section className="room">
          <RoomHeader room={room} onClose={onClose} />
          <div className="join-panel">
            <BannedCard roomName={room.name} ejection={bannedEnded(viewerBan).ejection} onClose={onClose} />
          </div>
        </section>
      );
    }
    return (
      <JoinPanel
        room={room}
        decision={decision}
        onRequested={onRequested}
        onJoined={() => {
          reloadRoom();
          onRoomsChanged();
        }}
        onBanned={(e: AppError) => end(endedFromError(e, room.name))}
        onClose={onClose}
      />
    );
  }

  return <ChatRoom room={room} me={me} clients={clients} onEnded={end} onClose={onClose} reloadRoom={reloadRoom} onRoomsChanged={onRoomsChanged} />;
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
  const roomId = room.id;
  const [panelOpen, setPanelOpen] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [reporting, setReporting] = useState<Msg | null>(null);
  const [deleting, setDeleting] = useState<Msg | null>(null);
  const admin = isAdmin(room.viewerRole);

  const [membersRes, refetchMembers] = useQuery({ query: RoomMembersQuery, variables: { roomId }, requestPolicy: 'network-only' });
  const [adminRes, refetchAdmin] = useQuery({ query: RoomAdminQuery, variables: { id: roomId }, pause: !admin, requestPolicy: 'network-only' });
  const reloadMembers = useCallback(() => refetchMembers({ requestPolicy: 'network-only' }), [refetchMembers]);
  const [reportsRes, refetchReports] = useQuery({ query: RoomReportsQuery, variables: { id: roomId }, pause: !admin, requestPolicy: 'network-only' });
  const [invitesRes, refetchInvites] = useQuery({ query: RoomInvitesQuery, variables: { id: roomId }, pause: !admin, requestPolicy: 'network-only' });
  // Invites count their uses, so they are refreshed with the rest of the admin data.
  const reloadAdmin = useCallback(() => {
    if (!admin) return;
    refetchAdmin({ requestPolicy: 'network-only' });
    refetchInvites({ requestPolicy: 'network-only' });
  }, [admin, refetchAdmin, refetchInvites]);
  const reloadReports = useCallback(() => {
    if (admin) refetchReports({ requestPolicy: 'network-only' });
  }, [admin, refetchReports]);
  const fetchedMembers = membersRes.data?.roomMembers;

  // Who is online: the members' answer, corrected by the PresenceChanged events that came
  // after it. An event's value is dropped once an answer agrees with it (then the answer
  // says the same); all are dropped after a reconnect (events may have been missed, and
  // the members are read again then).
  const [presence, setPresence] = useState<Readonly<Record<string, boolean>>>({});
  useEffect(() => {
    if (!fetchedMembers) return;
    setPresence((p) => {
      const keep = Object.entries(p).filter(([id, online]) => fetchedMembers.find((m) => m.user.id === id)?.online !== online);
      return keep.length === Object.keys(p).length ? p : Object.fromEntries(keep);
    });
  }, [fetchedMembers]);
  // The online count starts from the room's own answer (it counts readers who are not
  // members too) and is kept here from the PresenceChanged events that come after it, so a
  // presence change costs no request. Only the room read again after a (re)connect (events
  // may have been missed) starts it again: other reads of the room may have been answered
  // before an event that is already counted here.
  const [onlineCount, setOnlineCount] = useState(room.onlineCount);
  const recount = useRef(false);
  useEffect(
    () =>
      clients.ws.on('connected', () => {
        setPresence({});
        recount.current = true;
      }),
    [clients],
  );
  useEffect(() => {
    if (!recount.current) return;
    recount.current = false;
    setOnlineCount(room.onlineCount);
  }, [room]);
  const onPresence = useCallback((user: { id: string }, online: boolean) => {
    setPresence((p) => (p[user.id] === online ? p : { ...p, [user.id]: online }));
    setOnlineCount((n) => Math.max(0, n + (online ? 1 : -1)));
  }, []);
  const members = useMemo(
    () => (fetchedMembers ?? []).map((m) => (m.user.id in presence ? { ...m, online: presence[m.user.id] } : m)),
    [fetchedMembers, presence],
  );
  const meMember = members.find((m) => m.user.id === me.id);

  const roomName = room.name;
  // Latest values, read through a ref so `fail` stays the same function and the live
  // subscriptions are only restarted when the room (or the connection) changes.
  const cb = useRef({ onEnded, roomName });
  cb.current = { onEnded, roomName };
  /** End the view when an error means we cannot be in the room any more; true if it did. */
  const fail = useCallback((err: unknown) => {
    const e = toAppError(err);
    if (isEnding(e)) {
      cb.current.onEnded(endedFromError(e, cb.current.roomName));
      return true;
    }
    return false;
  }, []);

  const messages = useRoomMessages({ roomId, clients, onFatal: fail, onStreamEnded: reloadRoom });
  const { typists, onTyping } = useTypists();
  useRoomEvents({
    roomId,
    clients,
    onFatal: fail,
    me,
    roomName,
    onEnded,
    onMessagesDeleted: messages.remove,
    onNotice: setNotice,
    onSystem: messages.addSystem,
    onTyping,
    onPresence,
    reloadRoom,
    reloadMembers,
    reloadAdmin,
    reloadReports,
    onRoomsChanged,
  });
  const list = useRef<MessageListHandle>(null);
  const onSeen = useMarkRead(roomId);

  // A message from someone who was typing: they have stopped (the server says so too,
  // but that event may come later or, across nodes, not at all).
  const newest = messages.list[messages.list.length - 1];
  useEffect(() => {
    if (newest && newest.author.id !== me.id) onTyping(newest.author, false);
  }, [newest, me.id, onTyping]);

  const onSent = (m: Msg) => {
    list.current?.stickToBottom();
    messages.add([m]);
  };

  return (
    <section className={`room${panelOpen ? ' panel-open' : ''}`}>
      <div className="room-main">
        <RoomHeader room={room} onClose={onClose} online={onlineCount}>
          <button
            type="button"
            className={`btn btn-sm${panelOpen ? ' btn-active' : ''}`}
            aria-expanded={panelOpen}
            onClick={() => setPanelOpen((o) => !o)}
          >
            {admin ? 'Manage' : 'Members'}
          </button>
        </RoomHeader>
        <MessageList
          ref={list}
          roomName={room.name}
          messages={messages.list}
          system={messages.system}
          onSeen={onSeen}
          initialLoaded={messages.initialLoaded}
          hasOlder={messages.hasOlder}
          loadingOlder={messages.loadingOlder}
          onLoadOlder={messages.loadOlder}
          me={me}
          canDeleteAny={admin}
          onDelete={setDeleting}
          onReport={setReporting}
        />
        <TypingIndicator typists={typists} />
        {/* Banners sit in the flow between the newest message and the composer, so they
            never cover a message (the list keeps its bottom in view as they come and go). */}
        {(messages.liveProblem || notice) && (
          <div className="room-banners">
            {messages.liveProblem && <Alert kind="warn" onClose={messages.dismissLiveProblem}>{messages.liveProblem}</Alert>}
            {notice && (
              <Alert kind="info" onClose={() => setNotice(null)}>
                <span data-testid="room-notice">{notice}</span>
              </Alert>
            )}
          </div>
        )}
        <Composer
          roomId={roomId}
          role={room.viewerRole ?? 'MEMBER'}
          muted={!!meMember?.muted}
          mutedUntil={meMember?.mutedUntil ?? null}
          slowModeSeconds={room.slowModeSeconds}
          postingPolicy={room.postingPolicy}
          onSent={onSent}
          onFatal={fail}
        />
      </div>
      {reporting && (
        <ReportDialog
          message={reporting}
          onClose={() => setReporting(null)}
          onReported={(text) => {
            setReporting(null);
            setNotice(text);
          }}
        />
      )}
      {deleting && (
        <DeleteMessageDialog
          message={deleting}
          mine={deleting.author.id === me.id}
          onClose={() => setDeleting(null)}
          onDeleted={(id) => {
            setDeleting(null);
            messages.remove([id]);
          }}
        />
      )}
      {panelOpen && (
        <RoomPanel
          room={room}
          me={me}
          members={members}
          admin={adminRes.data?.room ?? null}
          reports={reportsRes.data?.room?.reports ?? null}
          invites={invitesRes.data?.room?.invites ?? null}
          onClose={() => setPanelOpen(false)}
          reload={() => {
            reloadMembers();
            reloadAdmin();
            reloadReports();
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
