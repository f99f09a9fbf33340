// Deleting a message asks first: a small dialog quoting it. Enter confirms (Delete has
// the focus), Esc or Cancel keeps the message.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { DeleteMessageMutation } from '../operations';
import { toAppError } from '../errors';
import { Alert } from '../ui';
import type { Msg } from './useRoomMessages';

export function DeleteMessageDialog({
  message,
  mine,
  onClose,
  onDeleted,
}: {
  message: Msg;
  /** The viewer's own message (the wording differs). */
  mine: boolean;
  onClose: () => void;
  onDeleted: (id: string) => void;
}) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const confirm = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    confirm.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setErr(null);
    const res = await client.mutation(DeleteMessageMutation, { messageId: message.id }).toPromise();
    setBusy(false);
    const ae = res.data ? null : toAppError(res.error);
    // Already gone (deleted by someone else meanwhile): what was asked for is done.
    if (!ae || ae.code === 'NOT_FOUND') onDeleted(message.id);
    else setErr(ae.message);
  };

  return (
    <dialog ref={dialog} className="dialog dialog-small" onCancel={onClose} onClose={onClose} aria-labelledby="delete-title" aria-describedby="delete-desc" data-testid="delete-dialog">
      <form onSubmit={submit} aria-label="Delete message">
        <div className="dialog-head">
          <h2 id="delete-title">Delete message?</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        <blockquote className="quoted">
          <span className="quoted-author">{mine ? 'You' : message.author.username}</span>
          <span className="quoted-body">{message.body}</span>
        </blockquote>
        <p id="delete-desc" className="muted small">
          {mine ? 'It will be removed for everyone in the room.' : `${message.author.username}'s message will be removed for everyone in the room.`} This cannot be undone.
        </p>
        {err && <Alert>{err}</Alert>}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button ref={confirm} type="submit" className="btn btn-danger" disabled={busy}>
            {busy ? 'Deleting…' : 'Delete'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
