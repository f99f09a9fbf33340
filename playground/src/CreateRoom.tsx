import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { CreateRoomMutation } from './operations';
import { fieldErrors, type FieldLabels, type FormErrors } from './errors';
import type { RoomType } from './gql/graphql';
import { Alert, Field } from './ui';

// API argument → this form's label (server errors are placed by `extensions.field`).
const FIELDS: FieldLabels = { name: 'Name', type: 'Type', topic: 'Topic', maxUsers: 'Member limit' };

export function CreateRoomDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (id: string) => void }) {
  const client = useClient();
  const [name, setName] = useState('');
  const [type, setType] = useState<RoomType>('PUBLIC');
  const [topic, setTopic] = useState('');
  const [maxUsers, setMaxUsers] = useState('');
  const [errors, setErrors] = useState<FormErrors>({ byField: {} });
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const nameInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    // showModal() focuses the first control (the close button): start in the first field.
    nameInput.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let max: number | null = null;
    if (maxUsers.trim() !== '') {
      max = Number(maxUsers);
      if (!Number.isInteger(max)) {
        setErrors({ byField: { maxUsers: 'Enter a whole number, or leave empty for no limit.' } });
        return;
      }
    }
    setBusy(true);
    // Validation is the server's job: its errors are shown next to the fields.
    const res = await client
      .mutation(CreateRoomMutation, { input: { name, type, topic: topic.trim() ? topic : null, maxUsers: max } })
      .toPromise();
    setBusy(false);
    if (res.data?.createRoom) {
      onCreated(res.data.createRoom.id);
      return;
    }
    setErrors(fieldErrors(res.error, FIELDS));
  };

  return (
    <dialog ref={dialog} className="dialog" onCancel={onClose} onClose={onClose} aria-labelledby="create-room-title">
      <form onSubmit={submit} noValidate aria-label="Create room">
        <div className="dialog-head">
          <h2 id="create-room-title">Create a room</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        <Field label="Name" htmlFor="room-name" error={errors.byField.name}>
          <input id="room-name" ref={nameInput} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. rust-beginners" aria-invalid={!!errors.byField.name} />
        </Field>
        <Field label="Type" htmlFor="room-type" error={errors.byField.type}>
          <select id="room-type" value={type} onChange={(e) => setType(e.target.value as RoomType)}>
            <option value="PUBLIC">Public — anyone can join</option>
            <option value="RESTRICTED">Restricted — joining needs approval</option>
            <option value="PRIVATE">Private — hidden, admins add members</option>
          </select>
        </Field>
        <Field label="Topic" htmlFor="room-topic" error={errors.byField.topic} hint="Optional, up to 500 characters">
          <textarea id="room-topic" rows={2} value={topic} onChange={(e) => setTopic(e.target.value)} aria-invalid={!!errors.byField.topic} />
        </Field>
        <Field label="Member limit" htmlFor="room-max" error={errors.byField.maxUsers} hint="Optional; empty means no limit">
          <input id="room-max" inputMode="numeric" value={maxUsers} onChange={(e) => setMaxUsers(e.target.value)} aria-invalid={!!errors.byField.maxUsers} />
        </Field>
        {errors.general && <Alert>{errors.general}</Alert>}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create room'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
