// Admins: invite links to the room (any room type; they admit without approval). Create
// one with a use limit and an expiry, copy its link, revoke it.
import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import type { InviteFieldsFragment } from '../gql/graphql';
import { CreateInviteMutation, RevokeInviteMutation } from '../operations';
import { fieldErrors, type FieldLabels, type FormErrors } from '../errors';
import type { Act } from '../RoomPanel';
import { Alert, Field, Spinner } from '../ui';
import { formatDateTime } from '../util';

// API argument → this form's label (server errors are placed by `extensions.field`).
const FIELDS: FieldLabels = { maxUses: 'Max uses', expiresInSeconds: 'Expires after' };

const EXPIRY_CHOICES: { label: string; seconds: number | null }[] = [
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 604_800 },
  { label: '30 days', seconds: 2_592_000 },
  { label: 'Never', seconds: null },
];

export function inviteLink(code: string): string {
  return `${location.origin}/invite/${encodeURIComponent(code)}`;
}

export function InvitesTab({ roomId, invites, loaded, act }: { roomId: string; invites: readonly InviteFieldsFragment[]; loaded: boolean; act: Act }) {
  const client = useClient();
  const [maxUses, setMaxUses] = useState('');
  const [expiry, setExpiry] = useState(1);
  const [errors, setErrors] = useState<FormErrors>({ byField: {} });
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState<string | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    let max: number | null = null;
    if (maxUses.trim() !== '') {
      max = Number(maxUses);
      if (!Number.isInteger(max)) {
        setErrors({ byField: { maxUses: 'Enter a whole number, or leave empty for no limit.' } });
        return;
      }
    }
    setBusy(true);
    const res = await client.mutation(CreateInviteMutation, { roomId, maxUses: max, expiresInSeconds: EXPIRY_CHOICES[expiry].seconds }).toPromise();
    setBusy(false);
    if (res.data) {
      setErrors({ byField: {} });
      setMaxUses('');
      await act(Promise.resolve(res), 'Invite link created. Copy it and send it to whoever you want to invite.');
    } else setErrors(fieldErrors(res.error, FIELDS));
  };

  const copy = async (code: string) => {
    const link = inviteLink(code);
    try {
      await navigator.clipboard.writeText(link);
      setCopied(code);
    } catch {
      // No clipboard access: select the link so it can be copied by hand.
      const input = document.getElementById(`invite-${code}`) as HTMLInputElement | null;
      input?.select();
      setCopied(null);
    }
  };

  return (
    <div className="invites">
      <form className="settings invite-form" onSubmit={create} noValidate aria-label="Create invite link">
        <div className="field-row">
          <Field label="Max uses" htmlFor="invite-max" error={errors.byField.maxUses} hint="Empty: no limit">
            <input
              id="invite-max"
              inputMode="numeric"
              placeholder="No limit"
              value={maxUses}
              onChange={(e) => setMaxUses(e.target.value)}
              aria-invalid={!!errors.byField.maxUses}
            />
          </Field>
          <Field label="Expires after" htmlFor="invite-expiry" error={errors.byField.expiresInSeconds}>
            <select id="invite-expiry" value={expiry} onChange={(e) => setExpiry(Number(e.target.value))} aria-invalid={!!errors.byField.expiresInSeconds}>
              {EXPIRY_CHOICES.map((c, i) => (
                <option key={c.label} value={i}>
                  {c.label}
                </option>
              ))}
            </select>
          </Field>
        </div>
        {errors.general && <Alert>{errors.general}</Alert>}
        <button type="submit" className="btn btn-primary btn-sm" disabled={busy}>
          {busy ? 'Creating…' : 'Create invite link'}
        </button>
      </form>
      {!loaded ? (
        <div className="center-screen">
          <Spinner label="Loading invites" />
        </div>
      ) : (
        <ul className="member-list">
          {invites.length === 0 && <li className="muted small pad">No invite links yet. Anyone with a link can join, even a private room.</li>}
          {invites.map((inv) => {
            const usedUp = inv.maxUses !== null && inv.maxUses !== undefined && inv.uses >= inv.maxUses;
            return (
              <li key={inv.code} className="member invite" data-testid="invite" data-code={inv.code}>
                <label htmlFor={`invite-${inv.code}`} className="sr-only">
                  Invite link
                </label>
                <input id={`invite-${inv.code}`} className="invite-link" readOnly value={inviteLink(inv.code)} onFocus={(e) => e.currentTarget.select()} data-testid="invite-link" />
                <div className="muted small invite-meta">
                  <span data-testid="invite-uses">
                    {inv.maxUses != null ? `Used ${inv.uses} of ${inv.maxUses} ${inv.maxUses === 1 ? 'time' : 'times'}` : `Used ${inv.uses} ${inv.uses === 1 ? 'time' : 'times'} (no limit)`}
                  </span>
                  {usedUp && <span className="badge badge-muted">Used up</span>}
                  <span>{inv.expiresAt ? <>Expires <time dateTime={inv.expiresAt}>{formatDateTime(inv.expiresAt)}</time></> : 'Never expires'}</span>
                  <span>by {inv.createdBy.username}</span>
                </div>
                <div className="action-line">
                  <button type="button" className="btn btn-sm" onClick={() => void copy(inv.code)}>
                    Copy link
                  </button>
                  <button type="button" className="btn btn-sm btn-danger-outline" onClick={() => act(client.mutation(RevokeInviteMutation, { code: inv.code }).toPromise(), 'Invite link revoked: it no longer works.')}>
                    Revoke
                  </button>
                  {copied === inv.code && (
                    <span className="small ok-text" role="status">
                      Link copied
                    </span>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
