// `/invite/CODE`: what an invite link opens (name, topic, type, member count) and a Join
// button; joining opens the room. A code that does not work says so.
import { useState } from 'react';
import { useClient, useQuery } from 'urql';
import { InviteQuery, JoinByInviteMutation } from './operations';
import { banSentence, toAppError } from './errors';
import { Alert, Spinner, TypeBadge } from './ui';
import { Icon } from './icons';

const NOT_WORKING = 'This invite link does not work. It may have expired, been used up or been revoked: ask for a new one.';

export function InvitePage({ code, onJoined, onClose }: { code: string; onJoined: (roomId: string) => void; onClose: () => void }) {
  const client = useClient();
  const [{ data, fetching, error }] = useQuery({ query: InviteQuery, variables: { code }, requestPolicy: 'network-only' });
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const preview = data?.invite ?? null;

  const join = async () => {
    if (!preview) return;
    setBusy(true);
    setErr(null);
    const res = await client.mutation(JoinByInviteMutation, { code }).toPromise();
    setBusy(false);
    if (res.data) {
      onJoined(preview.roomId);
      return;
    }
    const e = toAppError(res.error);
    switch (e.code) {
      case 'CONFLICT':
        // Already a member: nothing to join, just go in.
        onJoined(preview.roomId);
        return;
      case 'NOT_FOUND':
        setErr(NOT_WORKING);
        return;
      case 'BANNED':
        setErr(e.ejection ? `${banSentence(e.ejection)} This invite cannot let you in.` : `You are banned from ${preview.name}, so this invite cannot let you in.`);
        return;
      default:
        setErr(e.message);
    }
  };

  let content;
  if (fetching && !data) {
    content = <Spinner label="Loading the invite" />;
  } else if (!preview) {
    const e = error ? toAppError(error) : null;
    content = (
      <div className="join-card" data-testid="invite-invalid">
        <div className="empty-icon">
          <Icon name="link" size={36} />
        </div>
        <h2>Invite not valid</h2>
        <p className="muted">{e && e.code !== 'NOT_FOUND' && e.code !== 'BAD_USER_INPUT' ? e.message : NOT_WORKING}</p>
        <button type="button" className="btn" onClick={onClose}>
          Back to rooms
        </button>
      </div>
    );
  } else {
    content = (
      <div className="join-card" data-testid="invite-preview">
        <p className="muted small">You have been invited to join</p>
        <div className="room-title-row">
          <h2 data-testid="invite-room-name">{preview.name}</h2>
          <TypeBadge type={preview.type} />
        </div>
        {preview.topic && <p data-testid="invite-room-topic">{preview.topic}</p>}
        <p className="muted small" data-testid="invite-member-count">
          {preview.memberCount} {preview.memberCount === 1 ? 'member' : 'members'}
        </p>
        <button type="button" className="btn btn-primary" onClick={join} disabled={busy}>
          {busy ? 'Joining…' : `Join ${preview.name}`}
        </button>
        {err && <Alert>{err}</Alert>}
      </div>
    );
  }

  return (
    <section className="room invite-page">
      <div className="join-panel">{content}</div>
    </section>
  );
}
