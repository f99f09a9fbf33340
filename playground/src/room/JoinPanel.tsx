// The room as seen before joining: join (public) or ask to join (restricted).
import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import type { RoomSummaryFieldsFragment } from '../gql/graphql';
import { JoinRoomMutation, RequestToJoinMutation } from '../operations';
import { toAppError } from '../errors';
import { Alert } from '../ui';
import { RoomHeader } from './RoomHeader';

export function JoinPanel({ room, onJoined, onClose }: { room: RoomSummaryFieldsFragment; onJoined: () => void; onClose: () => void }) {
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
