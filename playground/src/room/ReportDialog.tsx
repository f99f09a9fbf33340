// Reporting someone else's message to the room's admins: a small dialog asking why.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { ReportMessageMutation } from '../operations';
import { fieldErrors, toAppError, type FieldLabels, type FormErrors } from '../errors';
import { Alert, Field } from '../ui';
import type { Msg } from './useRoomMessages';

// API argument → this form's label (server errors are placed by `extensions.field`).
const FIELDS: FieldLabels = { reason: 'Reason' };

export function ReportDialog({ message, onClose, onReported }: { message: Msg; onClose: () => void; onReported: (text: string) => void }) {
  const client = useClient();
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<FormErrors>({ byField: {} });
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const reasonInput = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    // showModal() focuses the first control (the close button): start in the first field.
    reasonInput.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!reason.trim()) {
      setErrors({ byField: { reason: 'Say briefly what is wrong with this message.' } });
      return;
    }
    setBusy(true);
    const res = await client.mutation(ReportMessageMutation, { messageId: message.id, reason: reason.trim() }).toPromise();
    setBusy(false);
    if (res.data) {
      onReported('Thanks. The room’s admins will look at your report.');
      return;
    }
    const err = toAppError(res.error, FIELDS);
    if (err.code === 'CONFLICT') {
      onReported('You have already reported this message; the admins have not decided on it yet.');
      return;
    }
    if (err.code === 'NOT_FOUND') {
      setErrors({ byField: {}, general: 'This message no longer exists.' });
      return;
    }
    setErrors(fieldErrors(res.error, FIELDS));
  };

  return (
    <dialog ref={dialog} className="dialog" onCancel={onClose} onClose={onClose} aria-labelledby="report-title">
      <form onSubmit={submit} noValidate aria-label="Report message">
        <div className="dialog-head">
          <h2 id="report-title">Report message</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        <blockquote className="quoted">
          <span className="quoted-author">{message.author.username}</span>
          <span className="quoted-body">{message.body}</span>
        </blockquote>
        <Field label="Reason" htmlFor="report-reason" error={errors.byField.reason} hint="Only the room’s admins see your report. Up to 500 characters.">
          <textarea
            id="report-reason"
            rows={3}
            maxLength={500}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            ref={reasonInput}
            placeholder="e.g. spam, insults, off topic"
            aria-invalid={!!errors.byField.reason}
            aria-describedby={errors.byField.reason ? 'report-reason-error' : undefined}
          />
        </Field>
        {errors.general && <Alert>{errors.general}</Alert>}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Sending…' : 'Send report'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
