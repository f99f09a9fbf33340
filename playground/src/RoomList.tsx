import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import { RoomsQuery } from './operations';
import { toAppError } from './errors';
import { TypeBadge, Alert } from './ui';

const POLL_MS = 3000;

export function RoomList({
  selectedId,
  onSelect,
  onCreate,
  version,
}: {
  selectedId: string | null;
  onSelect: (id: string) => void;
  onCreate: () => void;
  version: number;
}) {
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);

  const [{ data, error, fetching }, refetch] = useQuery({
    query: RoomsQuery,
    variables: { search: debounced || null, first: 100 },
  });

  // There is no room-list subscription: poll, and refetch after our own mutations.
  useEffect(() => {
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => clearInterval(t);
  }, [refetch]);
  useEffect(() => {
    if (version > 0) refetch({ requestPolicy: 'network-only' });
  }, [version, refetch]);

  const rooms = data?.rooms.nodes ?? [];
  const mine = rooms.filter((r) => r.viewerRole);
  const others = rooms.filter((r) => !r.viewerRole);

  const renderRoom = (r: (typeof rooms)[number]) => (
    <li key={r.id}>
      <button
        type="button"
        className={`room-item${r.id === selectedId ? ' selected' : ''}`}
        onClick={() => onSelect(r.id)}
        data-testid="room-item"
        data-room-name={r.name}
        aria-current={r.id === selectedId ? 'page' : undefined}
      >
        <span className="room-item-top">
          <span className="room-item-name">{r.name}</span>
          <TypeBadge type={r.type} />
        </span>
        {r.topic && <span className="room-item-topic">{r.topic}</span>}
        <span className="room-item-meta">
          {r.memberCount} {r.memberCount === 1 ? 'member' : 'members'}
          {r.maxUsers ? ` / ${r.maxUsers}` : ''}
          {r.viewerRole && <span className="joined-dot"> · joined</span>}
        </span>
      </button>
    </li>
  );

  return (
    <div className="room-list">
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
      {error && !data && <Alert>{toAppError(error).message}</Alert>}
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
            {fetching && !data ? 'Loading…' : debounced ? `No rooms match “${debounced}”.` : 'No other rooms yet.'}
          </p>
        )}
      </div>
    </div>
  );
}
