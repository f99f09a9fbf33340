// The room as seen before joining: join (public) or ask to join (restricted). A BANNED
// refusal (a ban made meanwhile) is handed up, to show who banned the viewer and why. An
// admin's answer comes on the viewer's live feed: approved, the room reloads as a member;
// declined, the panel says so and offers to ask again.
import { useEffect, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import type { RoomSummaryFieldsFragment } from '../gql/graphql';
import type { JoinDecision } from '../Shell';
import { JoinRoomMutation, RequestToJoinMutation } from '../operations';
import { fieldErrors, toAppError, type AppError, type FieldLabels } from '../errors';
import { Alert } from '../ui';
import { RoomHeader } from './RoomHeader';

// API argument → this form's label (server errors are placed by `extensions.field`).
const FIELDS: FieldLabels = { message: 'Message to the admins' };

export function JoinPanel({
  room,
  decision,
  onRequested,
  onJoined,
  onBanned,
  onClose,
}: {
  room: RoomSummaryFieldsFragment;
  /** An admin's answer to the viewer's request, if one came. */
  decision: JoinDecision | null;
  /** The request was sent (an earlier answer no longer applies). */
  onRequested: () => void;
  onJoined: () => void;
  /** The join was refused with BANNED. */
  onBanned: (e: AppError) => void;
  onClose: () => void;
}) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [noteErr, setNoteErr] = useState<string | null>(null);
  const [requested, setRequested] = useState(false);
  const [note, setNote] = useState('');
  const declined = decision?.kind === 'rejected';
  // Turned down: no longer "Request sent".
  useEffect(() => {
    if (decision?.kind === 'rejected') setRequested(false);
  }, [decision]);

  const join = async () => {
    setBusy(true);
    setErr(null);
    const res = await client.mutation(JoinRoomMutation, { roomId: room.id }).toPromise();
    setBusy(false);
    if (res.data) onJoined();
    else {
      const ae = toAppError(res.error);
      if (ae.code === 'BANNED') onBanned(ae);
      else setErr(ae.message);
    }
  };
  const request = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    setNoteErr(null);
    const res = await client.mutation(RequestToJoinMutation, { roomId: room.id, message: note.trim() || null }).toPromise();
    setBusy(false);
    if (res.data) {
      setRequested(true);
      onRequested();
    } else {
      const ae = toAppError(res.error);
      if (ae.code === 'CONFLICT') setRequested(true);
      else if (ae.code === 'BANNED') onBanned(ae);
      else {
        const fe = fieldErrors(res.error, FIELDS);
        setNoteErr(fe.byField.message ?? null);
        setErr(fe.general ?? null);
      }
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
                {declined ? (
                  <Alert kind="warn">
                    <span data-testid="join-declined">Your request to join “{room.name}” was declined. You can ask again.</span>
                  </Alert>
                ) : (
                  <p className="muted">This room is restricted: an admin has to approve your request.</p>
                )}
                <label className="sr-only" htmlFor="join-note">
                  Message to the admins
                </label>
                <input
                  id="join-note"
                  placeholder="Say why you'd like to join (optional)"
                  value={note}
                  onChange={(e) => setNote(e.target.value)}
                  aria-invalid={noteErr ? true : undefined}
                  aria-describedby={noteErr ? 'join-note-error' : undefined}
                />
                {noteErr && (
                  <div className="field-error" id="join-note-error" role="alert">
                    {noteErr}
                  </div>
                )}
                <button type="submit" className="btn btn-primary" disabled={busy}>
                  {declined ? 'Ask again' : 'Request to join'}
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
