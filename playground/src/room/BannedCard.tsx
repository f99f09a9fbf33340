// What a banned user sees of a room, instead of the chat or a "Join room" button: that
// they are banned, by whom, why and until when (from the ban's event or from the
// BANNED refusal's extensions, whichever came first).
import type { Ejection } from '../errors';
import { Icon } from '../icons';
import { formatDateTime } from '../util';

export function BannedCard({ roomName, ejection, onClose }: { roomName: string; ejection?: Ejection; onClose: () => void }) {
  return (
    <div className="empty-state banned" data-testid="banned" role="status">
      <div className="empty-icon danger">
        <Icon name="ban" size={40} />
      </div>
      <p className="muted small banned-room">{roomName}</p>
      <h2>You are banned from this room</h2>
      {ejection ? (
        <dl className="ban-facts">
          <div>
            <dt>Banned by</dt>
            <dd data-testid="banned-by">{ejection.by.username}</dd>
          </div>
          <div>
            <dt>Reason</dt>
            <dd data-testid="banned-reason">{ejection.reason ?? <span className="muted">No reason given</span>}</dd>
          </div>
          <div>
            <dt>How long</dt>
            <dd data-testid="banned-until">
              {ejection.expiresAt ? (
                <>
                  until <time dateTime={ejection.expiresAt}>{formatDateTime(ejection.expiresAt)}</time>
                </>
              ) : (
                'permanently'
              )}
            </dd>
          </div>
        </dl>
      ) : (
        <p className="muted">You cannot read or join it. Ask its admins if you think this is a mistake.</p>
      )}
      <button type="button" className="btn btn-primary" onClick={onClose}>
        Back to rooms
      </button>
    </div>
  );
}
