// Notices from the viewer's own feed, under the top bar and in the flow (never over the
// page): a request to join was declined or approved, the viewer was added to a room or
// removed from one. One polite live region holds them all; each goes by itself after a
// while or with its ×.
import { useEffect } from 'react';

export interface ViewerNotice {
  id: number;
  kind: 'approved' | 'rejected' | 'added' | 'removed';
  roomId: string;
  text: string;
  /** Offer to open the room (one the viewer may now enter and does not have open). */
  open: boolean;
}

const TEST_IDS: Record<ViewerNotice['kind'], string> = {
  approved: 'request-approved',
  rejected: 'request-rejected',
  added: 'added-to-room',
  removed: 'removed-from-room',
};

const SHOWN_MS = 20_000;

export function ViewerNotices({ notices, onDismiss, onOpen }: { notices: ViewerNotice[]; onDismiss: (id: number) => void; onOpen: (roomId: string) => void }) {
  return (
    <div className="viewer-notices" role="status" aria-live="polite">
      {notices.map((n) => (
        <Notice key={n.id} notice={n} onDismiss={onDismiss} onOpen={onOpen} />
      ))}
    </div>
  );
}

function Notice({ notice: n, onDismiss, onOpen }: { notice: ViewerNotice; onDismiss: (id: number) => void; onOpen: (roomId: string) => void }) {
  useEffect(() => {
    const t = setTimeout(() => onDismiss(n.id), SHOWN_MS);
    return () => clearTimeout(t);
  }, [n.id, onDismiss]);
  const kind = n.kind === 'rejected' || n.kind === 'removed' ? 'warn' : 'success';
  return (
    <div className={`alert alert-${kind} viewer-notice`} data-testid={TEST_IDS[n.kind]} data-room-id={n.roomId}>
      <div className="alert-body">{n.text}</div>
      {n.open && (
        <button
          type="button"
          className="btn btn-sm"
          onClick={() => {
            onDismiss(n.id);
            onOpen(n.roomId);
          }}
        >
          Open room
        </button>
      )}
      <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => onDismiss(n.id)}>
        ×
      </button>
    </div>
  );
}
