import type { ReactNode } from 'react';
import type { RoomSummaryFieldsFragment } from '../gql/graphql';
import { TypeBadge } from '../ui';

export function RoomHeader({
  room,
  onClose,
  online,
  children,
}: {
  room: RoomSummaryFieldsFragment;
  onClose: () => void;
  /** How many have the room open now (members' view only). */
  online?: number;
  children?: ReactNode;
}) {
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
          {online !== undefined && (
            <span className="room-online" data-testid="online-count" data-count={online}>
              <span className={`online-dot${online > 0 ? ' on' : ''}`} aria-hidden="true" />
              {online} online
            </span>
          )}
        </div>
      </div>
      <div className="room-header-actions">{children}</div>
    </header>
  );
}
