// The room list: read once with `rooms` (with each room's unread count and newest
// message), then kept live by the viewer's own feed (see live.ts and Shell): activity
// updates a room's badge and preview in place, and list changes (rooms created, changed,
// deleted, joined, left) read the list again. There is no polling.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useClient } from 'urql';
import type { RoomsQuery as RoomsQueryResult } from './gql/graphql';
import { RoomsQuery } from './operations';
import { toAppError } from './errors';
import { TypeBadge, Alert } from './ui';
import { now, useDocumentVisible, withLive, type LastMessage, type LiveRooms } from './live';

type ListedRoom = RoomsQueryResult['rooms']['nodes'][number];

const PREVIEW_CHARS = 80;

/** "bob: hello", "You: on my way", cut to one short line. */
export function previewOf(m: LastMessage, meId: string): string {
  const who = m.author.id === meId ? 'You' : m.author.username;
  const body = m.body.replace(/\s+/g, ' ').trim();
  return `${who}: ${body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS - 1)}…` : body}`;
}

export function RoomList({
  meId,
  selectedId,
  onSelect,
  onCreate,
  version,
  live,
  liveSince,
}: {
  meId: string;
  selectedId: string | null;
  onSelect: (id: string) => void;
  onCreate: () => void;
  /** Bumped whenever the list must be read again (our own mutations, the live feed). */
  version: number;
  /** What the live feed (and the open room) learnt since. */
  live: LiveRooms;
  /** When the live feed was last known to be listening (`now()`); null: not yet. */
  liveSince: number | null;
}) {
  const client = useClient();
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);

  // The list's last answer, and when it was asked for (live values learnt later win).
  const [list, setList] = useState<{ rooms: readonly ListedRoom[]; askedAt: number; search: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fetching, setFetching] = useState(false);
  const latest = useRef(0);

  const load = useCallback(async () => {
    const mine = ++latest.current;
    const askedAt = now();
    setFetching(true);
    const res = await client.query(RoomsQuery, { search: debounced || null, first: 100 }, { requestPolicy: 'network-only' }).toPromise();
    // A newer read was started meanwhile: its answer is the one to show.
    if (mine !== latest.current) return;
    setFetching(false);
    if (res.data) {
      setList({ rooms: res.data.rooms.nodes, askedAt, search: debounced });
      setError(null);
    } else setError(toAppError(res.error).message);
  }, [client, debounced]);

  useEffect(() => {
    void load();
  }, [load, version]);

  const visible = useDocumentVisible();
  const rooms = (list?.rooms ?? []).map((r) => {
    const shown = withLive(r, live[r.id], list!.askedAt);
    // The room on screen is being read (markRead follows): no badge for it, so messages
    // arriving there do not make one flicker up.
    return r.id === selectedId && visible ? { ...shown, unreadCount: 0 } : shown;
  });
  const mine = rooms.filter((r) => r.viewerRole);
  const others = rooms.filter((r) => !r.viewerRole);
  // The list is live once it was read after the feed began listening (`data-live`).
  const isLive = liveSince !== null && !!list && list.askedAt >= liveSince && !fetching;

  const renderRoom = (r: ListedRoom) => {
    const unread = r.viewerRole ? (r.unreadCount ?? 0) : 0;
    const preview = r.viewerRole && r.lastMessage ? previewOf(r.lastMessage, meId) : null;
    return (
      <li key={r.id}>
        <button
          type="button"
          className={`room-item${r.id === selectedId ? ' selected' : ''}${unread > 0 ? ' unread' : ''}`}
          onClick={() => onSelect(r.id)}
          data-testid="room-item"
          data-room-name={r.name}
          data-unread={unread}
          aria-current={r.id === selectedId ? 'page' : undefined}
        >
          <span className="room-item-top">
            <span className="room-item-name">{r.name}</span>
            <span className="room-item-badges">
              {unread > 0 && (
                <span className="unread-badge" data-testid="unread-badge" data-count={unread} role="img" aria-label={`${unread} unread ${unread === 1 ? 'message' : 'messages'}`}>
                  {unread > 99 ? '99+' : unread}
                </span>
              )}
              <TypeBadge type={r.type} />
            </span>
          </span>
          {r.topic && <span className="room-item-topic">{r.topic}</span>}
          {preview && (
            <span className="room-item-preview" data-testid="last-message" title={r.lastMessage!.body}>
              {preview}
            </span>
          )}
          <span className="room-item-meta">
            {r.memberCount} {r.memberCount === 1 ? 'member' : 'members'}
            {r.maxUsers ? ` / ${r.maxUsers}` : ''}
            {r.viewerRole && <span className="joined-dot"> · joined</span>}
          </span>
        </button>
      </li>
    );
  };

  const shownSearch = list?.search ?? debounced;
  return (
    <div className="room-list" data-live={isLive ? 'true' : 'false'}>
      <div className="room-list-head">
        <input
          type="search"
          className="search"
          placeholder="Search rooms"
          aria-label="Search rooms"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button type="button" className="btn btn-primary btn-sm" onClick={onCreate} title="Create room">
          + New room
        </button>
      </div>
      {error && !list && <Alert>{error}</Alert>}
      <div className="room-list-scroll">
        {mine.length > 0 && (
          <>
            <h3 className="list-heading">Your rooms</h3>
            <ul className="rooms">{mine.map(renderRoom)}</ul>
          </>
        )}
        <h3 className="list-heading">{mine.length ? 'Other rooms' : 'Rooms'}</h3>
        {others.length ? (
          <ul className="rooms">{others.map(renderRoom)}</ul>
        ) : (
          <p className="muted small pad">
            {!list ? 'Loading…' : shownSearch ? `No rooms match “${shownSearch}”.` : 'No other rooms yet.'}
          </p>
        )}
      </div>
    </div>
  );
}
