// Admins: the words and phrases members' messages may not contain, one per line.
import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { SetBlockedTermsMutation } from '../operations';
import { fieldErrors, type FieldLabels, type FormErrors } from '../errors';
import { Alert, Field } from '../ui';

// API argument → this form's label (server errors are placed by `extensions.field`).
const FIELDS: FieldLabels = { terms: 'Blocked words' };

/** The lines of the editor that hold a term (blank lines are ignored). */
function termsOf(text: string): string[] {
  return text
    .split('\n')
    .map((t) => t.trim())
    .filter(Boolean);
}

export function BlockedTermsEditor({ roomId, terms, onSaved }: { roomId: string; terms: readonly string[]; onSaved: (count: number) => void }) {
  const client = useClient();
  const [text, setText] = useState(() => terms.join('\n'));
  const [errors, setErrors] = useState<FormErrors>({ byField: {} });
  const [busy, setBusy] = useState(false);
  const count = termsOf(text).length;
  const error = errors.byField.terms;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    // Limits (how many, how long) are the server's to check: its errors show below.
    const res = await client.mutation(SetBlockedTermsMutation, { roomId, terms: termsOf(text) }).toPromise();
    setBusy(false);
    if (res.data) {
      // The server drops duplicates and tidies spaces: show what it kept.
      const kept = res.data.setBlockedTerms.blockedTerms;
      setText(kept.join('\n'));
      setErrors({ byField: {} });
      onSaved(kept.length);
    } else setErrors(fieldErrors(res.error, FIELDS));
  };

  return (
    <form className="blocked-terms" onSubmit={save} noValidate aria-label="Blocked words">
      <h3 className="section-title">Blocked words</h3>
      <Field
        label="Blocked words and phrases"
        htmlFor="blocked-terms"
        error={error}
        hint={`One per line (${count} of at most 100, each up to 50 characters). A member's message containing one of them as a whole word is not sent; admins are exempt.`}
      >
        <textarea
          id="blocked-terms"
          rows={5}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder={'e.g.\nspoiler\nbuy now'}
          spellCheck={false}
          aria-invalid={!!error}
          aria-describedby={error ? 'blocked-terms-error' : undefined}
        />
      </Field>
      {errors.general && <Alert>{errors.general}</Alert>}
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save blocked words'}
      </button>
    </form>
  );
}
