import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useClient } from 'urql';
import type { InviteFieldsFragment, MemberFieldsFragment, PostingPolicy, RoomAdminQuery, RoomReportsQuery, RoomSummaryFieldsFragment, RoomType, UpdateRoomInput } from './gql/graphql';
import type { Me } from './Shell';
import {
  AddMemberMutation,
  ApproveJoinRequestMutation,
  BanUserMutation,
  DeleteRoomMutation,
  LeaveRoomMutation,
  MuteMemberMutation,
  RejectJoinRequestMutation,
  RemoveMemberMutation,
  SetMemberRoleMutation,
  TransferOwnershipMutation,
  UnbanUserMutation,
  UnmuteMemberMutation,
  UpdateRoomMutation,
  UserByNameQuery,
} from './operations';
import { fieldErrors, toAppError, type FieldLabels, type FormErrors } from './errors';
import { Alert, Avatar, Field, RoleBadge } from './ui';
import { canModerate, formatDateTime, formatDuration, isAdmin } from './util';
import { Icon } from './icons';
import { ReportsTab } from './panel/ReportsTab';
import { InvitesTab } from './panel/InvitesTab';
import { AuditLog } from './panel/AuditLog';
import { BlockedTermsEditor } from './panel/BlockedTermsEditor';

/** A member, with whether they are online when the caller knows it. */
type Member = MemberFieldsFragment & { online?: boolean };
type Room = RoomSummaryFieldsFragment;
type AdminData = NonNullable<RoomAdminQuery['room']>;
type Reports = NonNullable<RoomReportsQuery['room']>['reports'];

const MUTE_CHOICES: { label: string; seconds: number | null }[] = [
  { label: '5 minutes', seconds: 300 },
  { label: '1 hour', seconds: 3600 },
  { label: '24 hours', seconds: 86_400 },
  { label: '7 days', seconds: 604_800 },
  { label: 'Until unmuted', seconds: null },
];

const BAN_CHOICES: { label: string; seconds: number | null }[] = [
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 604_800 },
  { label: '30 days', seconds: 2_592_000 },
  { label: 'Permanent', seconds: null },
];

const PURGE_CHOICES: { label: string; seconds: number | null }[] = [
  { label: 'None', seconds: null },
  { label: '1 hour', seconds: 3600 },
  { label: '24 hours', seconds: 86_400 },
  { label: '7 days', seconds: 604_800 },
];

// API argument → the words of the form that sends it (server errors are placed by
// `extensions.field`, or name it).
const MUTE_FIELDS: FieldLabels = { durationSeconds: 'Mute duration' };
const KICK_FIELDS: FieldLabels = { reason: 'Reason' };
const BAN_FIELDS: FieldLabels = { reason: 'Reason', durationSeconds: 'Ban duration', deleteMessagesSeconds: 'Delete their messages from the last' };

type Tab = 'members' | 'requests' | 'bans' | 'reports' | 'invites' | 'log' | 'settings';

const TABS: { id: Tab; label: string }[] = [
  { id: 'members', label: 'Members' },
  { id: 'requests', label: 'Requests' },
  { id: 'bans', label: 'Bans' },
  { id: 'reports', label: 'Reports' },
  { id: 'invites', label: 'Invites' },
  { id: 'log', label: 'Audit log' },
  { id: 'settings', label: 'Settings' },
];

export function RoomPanel({
  room,
  me,
  members,
  admin,
  reports: reportsData,
  invites,
  onClose,
  reload,
  onRoomsChanged,
  onLeftRoom,
}: {
  room: Room;
  me: Me;
  members: Member[];
  admin: AdminData | null;
  /** Open reports; null until loaded. */
  reports: Reports | null;
  /** Invite links; null until loaded. */
  invites: readonly InviteFieldsFragment[] | null;
  onClose: () => void;
  reload: () => void;
  onRoomsChanged: () => void;
  onLeftRoom: () => void;
}) {
  const client = useClient();
  const [tab, setTab] = useState<Tab>('members');
  const [flash, setFlash] = useState<{ kind: 'error' | 'success'; text: string } | null>(null);
  const viewerRole = room.viewerRole;
  const canAdmin = isAdmin(viewerRole);
  const isOwner = viewerRole === 'OWNER';
  const requests = admin?.joinRequests ?? [];
  const bans = admin?.bans ?? [];
  const reports = reportsData?.nodes ?? [];

  /**
   * Run a mutation, show a readable result, refresh what depends on it. `labels` names the
   * arguments as the form that ran it shows them.
   */
  const act: Act = async (p, ok, labels) => {
    const res = await p;
    if (res.data) {
      setFlash({ kind: 'success', text: ok });
      reload();
      onRoomsChanged();
      return true;
    }
    setFlash({ kind: 'error', text: toAppError(res.error, labels).message });
    return false;
  };

  const sorted = [...members].sort((a, b) => {
    const rank = { OWNER: 0, ADMIN: 1, MEMBER: 2 } as const;
    return rank[a.role] - rank[b.role] || a.user.username.localeCompare(b.user.username);
  });

  return (
    <aside className="panel" aria-label="Room details">
      <div className="panel-head">
        <h2>{canAdmin ? 'Manage room' : 'Members'}</h2>
        <button type="button" className="icon-btn" aria-label="Close panel" onClick={onClose}>
          ×
        </button>
      </div>
      {canAdmin && (
        <div className="tabs tabs-small tabs-wrap" role="tablist">
          {TABS.map((t) => {
            const count = t.id === 'members' ? members.length : t.id === 'requests' ? requests.length : t.id === 'bans' ? bans.length : t.id === 'reports' ? reports.length : 0;
            const hot = (t.id === 'requests' || t.id === 'reports') && count > 0;
            return (
              <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : ''} onClick={() => setTab(t.id)}>
                {t.label}
                {(t.id === 'members' || count > 0) && <span className={`count${hot ? ' count-hot' : ''}`}>{count}</span>}
              </button>
            );
          })}
        </div>
      )}
      {flash && (
        <Alert kind={flash.kind} onClose={() => setFlash(null)}>
          <span data-testid="panel-flash">{flash.text}</span>
        </Alert>
      )}
      <div className="panel-body">
        {tab === 'members' && (
          <>
            {canAdmin && <AddMember roomId={room.id} act={act} />}
            <ul className="member-list" data-testid="member-list">
              {sorted.map((m) => (
                <MemberRow key={m.user.id} m={m} me={me} room={room} act={act} />
              ))}
            </ul>
            <div className="panel-footer" data-testid="leave-room">
              {isOwner ? (
                <OwnerLeave room={room} me={me} members={members} act={act} />
              ) : (
                <LeaveButton
                  onLeave={async () => {
                    const res = await client.mutation(LeaveRoomMutation, { roomId: room.id }).toPromise();
                    if (res.data) onLeftRoom();
                    else setFlash({ kind: 'error', text: toAppError(res.error).message });
                  }}
                />
              )}
            </div>
          </>
        )}
        {tab === 'requests' && canAdmin && (
          <ul className="member-list">
            {requests.length === 0 && <li className="muted small pad">No pending join requests.</li>}
            {requests.map((r) => (
              <li key={r.user.id} className="member" data-testid="join-request">
                <div className="member-row">
                  <Avatar name={r.user.username} size={30} />
                  <div className="member-info">
                    <span className="member-name">{r.user.username}</span>
                    <span className="muted small">{r.message ? `“${r.message}”` : formatDateTime(r.createdAt)}</span>
                  </div>
                </div>
                <div className="member-actions">
                  <button type="button" className="btn btn-primary btn-sm" onClick={() => act(client.mutation(ApproveJoinRequestMutation, { roomId: room.id, userId: r.user.id }).toPromise(), `${r.user.username} can now join.`)}>
                    Approve
                  </button>
                  <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(RejectJoinRequestMutation, { roomId: room.id, userId: r.user.id }).toPromise(), `Request from ${r.user.username} rejected.`)}>
                    Reject
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
        {tab === 'bans' && canAdmin && (
          <ul className="member-list">
            {bans.length === 0 && <li className="muted small pad">Nobody is banned.</li>}
            {bans.map((b) => (
              <li key={b.user.id} className="member" data-testid="ban">
                <div className="member-row">
                  <Avatar name={b.user.username} size={30} />
                  <div className="member-info">
                    <span className="member-name">{b.user.username}</span>
                    <span className="muted small">
                      by {b.bannedBy.username} · {formatDateTime(b.createdAt)}
                      {b.reason ? ` · “${b.reason}”` : ''}
                    </span>
                    <span className="small" data-testid="ban-expiry">
                      {b.expiresAt ? (
                        <>
                          Until <time dateTime={b.expiresAt}>{formatDateTime(b.expiresAt)}</time>
                        </>
                      ) : (
                        'Permanent (until unbanned)'
                      )}
                    </span>
                  </div>
                  <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(UnbanUserMutation, { roomId: room.id, userId: b.user.id }).toPromise(), `${b.user.username} was unbanned.`)}>
                    Unban
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
        {tab === 'reports' && canAdmin && <ReportsTab reports={reports} more={!!reportsData?.pageInfo.hasNextPage} loaded={!!reportsData} act={act} />}
        {tab === 'invites' && canAdmin && <InvitesTab roomId={room.id} invites={invites ?? []} loaded={!!invites} act={act} />}
        {tab === 'log' && canAdmin && <AuditLog roomId={room.id} />}
        {tab === 'settings' && canAdmin && (
          <RoomSettings room={room} canDelete={canAdmin} onSaved={(changed) => { reload(); onRoomsChanged(); setFlash({ kind: 'success', text: changed ? 'Room updated.' : 'No changes to save.' }); }} onDeleted={onLeftRoom}>
            {admin && <BlockedTermsEditor roomId={room.id} terms={admin.blockedTerms} onSaved={(n) => { reload(); setFlash({ kind: 'success', text: n ? `Blocked words saved (${n}).` : 'Blocked words cleared.' }); }} />}
          </RoomSettings>
        )}
      </div>
    </aside>
  );
}

export type Act = (p: Promise<{ error?: unknown; data?: unknown }>, ok: string, labels?: FieldLabels) => Promise<boolean>;

function AddMember({ roomId, act }: { roomId: string; act: Act }) {
  const client = useClient();
  const [name, setName] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setErr(null);
    const username = name.trim();
    if (!username) return;
    const res = await client.query(UserByNameQuery, { username }, { requestPolicy: 'network-only' }).toPromise();
    const user = res.data?.user;
    if (!user) {
      setErr(res.error ? toAppError(res.error).message : `No user called “${username}”.`);
      return;
    }
    if (await act(client.mutation(AddMemberMutation, { roomId, userId: user.id }).toPromise(), `${user.username} was added.`)) setName('');
  };
  return (
    <form className="add-member" onSubmit={submit} aria-label="Add member">
      <label htmlFor="add-member-name" className="sr-only">
        Username to add
      </label>
      <input
        id="add-member-name"
        placeholder="Add someone by username"
        value={name}
        onChange={(e) => setName(e.target.value)}
        aria-invalid={err ? true : undefined}
        aria-describedby={err ? 'add-member-name-error' : undefined}
      />
      <button type="submit" className="btn btn-sm btn-primary">
        Add
      </button>
      {err && (
        <div className="field-error full" id="add-member-name-error" role="alert">
          {err}
        </div>
      )}
    </form>
  );
}

function MemberRow({ m, me, room, act }: { m: Member; me: Me; room: Room; act: Act }) {
  const client = useClient();
  const [open, setOpen] = useState(false);
  const [mode, setMode] = useState<'none' | 'ban' | 'kick' | 'owner'>('none');
  const [muteChoice, setMuteChoice] = useState(1);
  const [reason, setReason] = useState('');
  const [banChoice, setBanChoice] = useState(BAN_CHOICES.length - 1);
  const [purgeChoice, setPurgeChoice] = useState(0);
  const [formErrors, setFormErrors] = useState<FormErrors>({ byField: {} });
  const viewerRole = room.viewerRole;
  const isMe = m.user.id === me.id;
  const moderate = !isMe && canModerate(viewerRole, m.role);
  const isOwner = viewerRole === 'OWNER';
  const roomId = room.id;
  const userId = m.user.id;
  const name = m.user.username;

  /** Run the kick or ban form's mutation: its field errors go next to its fields, the rest to the panel. */
  const run = async (p: Promise<{ error?: unknown; data?: unknown }>, ok: string, labels: FieldLabels) => {
    const res = await p;
    const fe = res.data ? { byField: {} } : fieldErrors(res.error, labels);
    setFormErrors({ byField: fe.byField });
    if (res.data || fe.general !== undefined) await act(Promise.resolve(res), ok, labels);
  };
  const toggle = (which: 'kick' | 'ban') => {
    setFormErrors({ byField: {} });
    setMode(mode === which ? 'none' : which);
  };
  const banChoiceError = formErrors.byField.durationSeconds ?? formErrors.byField.deleteMessagesSeconds;

  return (
    <li className="member" data-testid="member" data-username={name}>
      <div className="member-row">
        <span className="member-avatar">
          <Avatar name={name} size={30} />
          {m.online !== undefined && (
            <span
              className={`online-dot presence${m.online ? ' on' : ''}`}
              data-testid="online-dot"
              role="img"
              aria-label={m.online ? 'online' : 'offline'}
              title={m.online ? 'Online' : 'Offline'}
            />
          )}
        </span>
        <div className="member-info">
          <span className="member-name">
            {name}
            {isMe && <span className="muted"> (you)</span>}
          </span>
          <span className="member-tags">
            <RoleBadge role={m.role} />
            {m.muted && (
              <span className="badge badge-muted" title={m.mutedUntil ? `until ${formatDateTime(m.mutedUntil)}` : 'until unmuted'}>
                <Icon name="mute" size={11} /> Muted{m.mutedUntil ? ` until ${formatDateTime(m.mutedUntil)}` : ''}
              </span>
            )}
          </span>
        </div>
        {moderate && (
          <button type="button" className="btn btn-sm btn-ghost" aria-expanded={open} aria-label={`Manage ${name}`} onClick={() => setOpen((o) => !o)}>
            {open ? 'Done' : 'Manage'}
          </button>
        )}
      </div>
      {moderate && open && (
        <div className="member-actions" data-testid="member-actions">
          {isOwner && m.role !== 'OWNER' && (
            <div className="action-line">
              {m.role === 'MEMBER' ? (
                <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(SetMemberRoleMutation, { roomId, userId, role: 'ADMIN' }).toPromise(), `${name} is now an admin.`)}>
                  Promote to admin
                </button>
              ) : (
                <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(SetMemberRoleMutation, { roomId, userId, role: 'MEMBER' }).toPromise(), `${name} is now a member.`)}>
                  Demote to member
                </button>
              )}
              <button type="button" className="btn btn-sm btn-ghost" onClick={() => setMode(mode === 'owner' ? 'none' : 'owner')}>
                Make owner…
              </button>
            </div>
          )}
          {mode === 'owner' && (
            <div className="confirm">
              <span>Transfer ownership to {name}? You will become an admin.</span>
              <button type="button" className="btn btn-sm btn-danger" onClick={() => act(client.mutation(TransferOwnershipMutation, { roomId, userId }).toPromise(), `${name} now owns the room.`)}>
                Transfer
              </button>
            </div>
          )}
          <div className="action-line">
            {m.muted ? (
              <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(UnmuteMemberMutation, { roomId, userId }).toPromise(), `${name} was unmuted.`)}>
                Unmute
              </button>
            ) : (
              <>
                <label className="sr-only" htmlFor={`mute-${userId}`}>
                  Mute duration
                </label>
                <select id={`mute-${userId}`} aria-label="Mute duration" value={muteChoice} onChange={(e) => setMuteChoice(Number(e.target.value))}>
                  {MUTE_CHOICES.map((c, i) => (
                    <option key={c.label} value={i}>
                      {c.label}
                    </option>
                  ))}
                </select>
                <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(MuteMemberMutation, { roomId, userId, durationSeconds: MUTE_CHOICES[muteChoice].seconds }).toPromise(), `${name} was muted (${MUTE_CHOICES[muteChoice].label.toLowerCase()}).`, MUTE_FIELDS)}>
                  Mute
                </button>
              </>
            )}
          </div>
          <div className="action-line">
            <button type="button" className="btn btn-sm" onClick={() => toggle('kick')}>
              Remove…
            </button>
            <button type="button" className="btn btn-sm btn-danger-outline" onClick={() => toggle('ban')}>
              Ban…
            </button>
          </div>
          {mode === 'kick' && (
            <form
              className="confirm ban-form"
              aria-label={`Remove ${name}`}
              noValidate
              onSubmit={(e) => {
                e.preventDefault();
                void run(
                  client.mutation(RemoveMemberMutation, { roomId, userId, reason: reason.trim() || null }).toPromise(),
                  `${name} was removed.`,
                  KICK_FIELDS,
                );
              }}
            >
              <span>Remove {name} from the room? They can join again{room.type === 'PUBLIC' ? '' : ' if allowed'}.</span>
              <ReasonInput id={`kick-reason-${userId}`} label="Reason for removing" value={reason} onChange={setReason} error={formErrors.byField.reason} />
              <button type="submit" className="btn btn-sm btn-danger">
                Remove {name}
              </button>
            </form>
          )}
          {mode === 'ban' && (
            <form
              className="confirm ban-form"
              aria-label={`Ban ${name}`}
              onSubmit={(e) => {
                e.preventDefault();
                const ban = BAN_CHOICES[banChoice];
                const purge = PURGE_CHOICES[purgeChoice];
                const what = ban.seconds === null ? 'until unbanned' : `for ${ban.label}`;
                void run(
                  client
                    .mutation(BanUserMutation, { roomId, userId, reason: reason.trim() || null, durationSeconds: ban.seconds, deleteMessagesSeconds: purge.seconds })
                    .toPromise(),
                  `${name} was banned ${what}${purge.seconds ? `; their messages from the last ${purge.label} were deleted` : ''}.`,
                  BAN_FIELDS,
                );
              }}
              noValidate
            >
              <ReasonInput id={`ban-reason-${userId}`} label="Ban reason" value={reason} onChange={setReason} error={formErrors.byField.reason} />
              <label className="inline-field">
                <span>Ban for</span>
                <select
                  aria-label="Ban duration"
                  value={banChoice}
                  aria-invalid={formErrors.byField.durationSeconds ? true : undefined}
                  aria-describedby={formErrors.byField.durationSeconds ? `ban-choice-error-${userId}` : undefined}
                  onChange={(e) => setBanChoice(Number(e.target.value))}>
                  {BAN_CHOICES.map((c, i) => (
                    <option key={c.label} value={i}>
                      {c.label}
                    </option>
                  ))}
                </select>
              </label>
              <label className="inline-field">
                <span>Delete their messages from the last</span>
                <select
                  aria-label="Delete their messages from the last"
                  value={purgeChoice}
                  aria-invalid={formErrors.byField.deleteMessagesSeconds ? true : undefined}
                  aria-describedby={formErrors.byField.deleteMessagesSeconds ? `ban-choice-error-${userId}` : undefined}
                  onChange={(e) => setPurgeChoice(Number(e.target.value))}>
                  {PURGE_CHOICES.map((c, i) => (
                    <option key={c.label} value={i}>
                      {c.label === 'None' ? 'None (keep them)' : c.label}
                    </option>
                  ))}
                </select>
              </label>
              {banChoiceError && (
                <div className="field-error" id={`ban-choice-error-${userId}`} role="alert">
                  {banChoiceError}
                </div>
              )}
              <button type="submit" className="btn btn-sm btn-danger">
                Ban {name}
              </button>
            </form>
          )}
        </div>
      )}
    </li>
  );
}

/** The optional reason of a kick or a ban (shown to the user it concerns and in the audit log). */
function ReasonInput({ id, label, value, onChange, error }: { id: string; label: string; value: string; onChange: (v: string) => void; error?: string }) {
  return (
    <>
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <input
        id={id}
        placeholder="Reason (optional)"
        maxLength={500}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
      />
      {error && (
        <div className="field-error full" id={`${id}-error`} role="alert">
          {error}
        </div>
      )}
    </>
  );
}

/**
 * The owner cannot leave their room (the server refuses until someone else owns it): the
 * Leave button is shown disabled, says why, and offers the way out right here — handing
 * the room to another member, after which the old owner is an admin and may leave.
 */
function OwnerLeave({ room, me, members, act }: { room: Room; me: Me; members: Member[]; act: Act }) {
  const client = useClient();
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState('');
  const select = useRef<HTMLSelectElement>(null);
  const rank = { OWNER: 0, ADMIN: 1, MEMBER: 2 } as const;
  const others = members
    .filter((m) => m.user.id !== me.id)
    .sort((a, b) => rank[a.role] - rank[b.role] || a.user.username.localeCompare(b.user.username));
  const target = others.find((m) => m.user.id === to) ?? others[0];

  useEffect(() => {
    if (open) select.current?.focus();
  }, [open]);

  return (
    <div className="owner-leave">
      <button type="button" className="btn btn-sm btn-danger-outline" disabled aria-describedby="owner-leave-why">
        Leave room
      </button>
      <p id="owner-leave-why" className="muted small" data-testid="owner-leave-why">
        You own this room: transfer ownership to another member before you leave.
      </p>
      {!open ? (
        <button type="button" className="btn btn-sm" aria-expanded={false} onClick={() => setOpen(true)}>
          Transfer ownership…
        </button>
      ) : !target ? (
        <p className="muted small" role="status">
          Nobody else is in this room yet: add a member first, or delete the room under Settings.
        </p>
      ) : (
        <form
          className="confirm transfer-form"
          aria-label="Transfer ownership"
          onSubmit={(e) => {
            e.preventDefault();
            void act(
              client.mutation(TransferOwnershipMutation, { roomId: room.id, userId: target.user.id }).toPromise(),
              `${target.user.username} now owns the room. You are an admin and can leave.`,
            );
          }}
        >
          <label htmlFor="transfer-to">New owner</label>
          <select id="transfer-to" ref={select} value={target.user.id} onChange={(e) => setTo(e.target.value)}>
            {others.map((m) => (
              <option key={m.user.id} value={m.user.id}>
                {m.user.username}
                {m.role === 'ADMIN' ? ' (admin)' : ''}
              </option>
            ))}
          </select>
          <span className="small">{target.user.username} will own the room; you will become an admin.</span>
          <button type="submit" className="btn btn-sm btn-danger">
            Transfer ownership
          </button>
          <button type="button" className="btn btn-sm" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </form>
      )}
    </div>
  );
}

function LeaveButton({ onLeave }: { onLeave: () => void }) {
  const [confirm, setConfirm] = useState(false);
  return confirm ? (
    <div className="confirm">
      <span>Leave this room?</span>
      <button type="button" className="btn btn-sm btn-danger" onClick={onLeave}>
        Leave
      </button>
      <button type="button" className="btn btn-sm" onClick={() => setConfirm(false)}>
        Cancel
      </button>
    </div>
  ) : (
    <button type="button" className="btn btn-sm btn-danger-outline" onClick={() => setConfirm(true)}>
      Leave room
    </button>
  );
}

// API argument → the settings form's label (server errors are placed by `extensions.field`).
const SETTINGS_FIELDS: FieldLabels = {
  name: 'Name',
  topic: 'Topic',
  type: 'Type',
  maxUsers: 'Member limit',
  slowModeSeconds: 'Slow mode',
  postingPolicy: 'Only admins can post',
};

/** Slow mode presets (seconds); anything else is entered as a number. */
const SLOW_MODE_CHOICES = [0, 5, 10, 30, 60, 300, 900, 3600, 21_600];
const CUSTOM = 'custom';

function RoomSettings({
  room,
  canDelete,
  onSaved,
  onDeleted,
  children,
}: {
  room: Room;
  canDelete: boolean;
  onSaved: (changed: boolean) => void;
  onDeleted: () => void;
  /** More settings, shown between the form and the danger zone. */
  children?: ReactNode;
}) {
  const client = useClient();
  const [name, setName] = useState(room.name);
  const [topic, setTopic] = useState(room.topic ?? '');
  const [type, setType] = useState<RoomType>(room.type);
  const [maxUsers, setMaxUsers] = useState(room.maxUsers?.toString() ?? '');
  const [slowChoice, setSlowChoice] = useState(SLOW_MODE_CHOICES.includes(room.slowModeSeconds) ? String(room.slowModeSeconds) : CUSTOM);
  const [slowCustom, setSlowCustom] = useState(String(room.slowModeSeconds));
  const [adminsOnly, setAdminsOnly] = useState(room.postingPolicy === 'ADMINS');
  const [errors, setErrors] = useState<FormErrors>({ byField: {} });
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteErr, setDeleteErr] = useState<string | null>(null);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    let max: number | null = null;
    if (maxUsers.trim() !== '') {
      max = Number(maxUsers);
      if (!Number.isInteger(max)) {
        setErrors({ byField: { maxUsers: 'Enter a whole number, or leave empty for no limit.' } });
        return;
      }
    }
    const slow = Number(slowChoice === CUSTOM ? slowCustom.trim() : slowChoice);
    if (slowChoice === CUSTOM && (slowCustom.trim() === '' || !Number.isInteger(slow))) {
      setErrors({ byField: { slowModeSeconds: 'Enter a whole number of seconds (0 turns slow mode off).' } });
      return;
    }
    const posting: PostingPolicy = adminsOnly ? 'ADMINS' : 'MEMBERS';
    // Only what changed is sent (and so recorded in the audit log); explicit null clears
    // topic / max users.
    const input: UpdateRoomInput = {};
    if (name !== room.name) input.name = name;
    if (topic !== (room.topic ?? '')) input.topic = topic.trim() ? topic : null;
    if (type !== room.type) input.type = type;
    if (max !== (room.maxUsers ?? null)) input.maxUsers = max;
    if (slow !== room.slowModeSeconds) input.slowModeSeconds = slow;
    if (posting !== room.postingPolicy) input.postingPolicy = posting;
    if (Object.keys(input).length === 0) {
      setErrors({ byField: {} });
      onSaved(false);
      return;
    }
    setBusy(true);
    const res = await client.mutation(UpdateRoomMutation, { roomId: room.id, input }).toPromise();
    setBusy(false);
    if (res.data) {
      setErrors({ byField: {} });
      onSaved(true);
    } else setErrors(fieldErrors(res.error, SETTINGS_FIELDS));
  };

  const del = async () => {
    const res = await client.mutation(DeleteRoomMutation, { roomId: room.id }).toPromise();
    if (res.data) onDeleted();
    else setDeleteErr(toAppError(res.error).message);
  };

  return (
    <div className="settings">
      <form onSubmit={save} noValidate aria-label="Room settings">
        <Field label="Name" htmlFor="set-name" error={errors.byField.name}>
          <input id="set-name" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Topic" htmlFor="set-topic" error={errors.byField.topic}>
          <textarea id="set-topic" rows={2} value={topic} onChange={(e) => setTopic(e.target.value)} />
        </Field>
        <Field label="Type" htmlFor="set-type" error={errors.byField.type}>
          <select id="set-type" value={type} onChange={(e) => setType(e.target.value as RoomType)}>
            <option value="PUBLIC">Public</option>
            <option value="RESTRICTED">Restricted</option>
            <option value="PRIVATE">Private</option>
          </select>
        </Field>
        <Field label="Member limit" htmlFor="set-max" error={errors.byField.maxUsers} hint="Empty means no limit">
          <input id="set-max" inputMode="numeric" value={maxUsers} onChange={(e) => setMaxUsers(e.target.value)} />
        </Field>
        <Field label="Slow mode" htmlFor="set-slow" error={slowChoice === CUSTOM ? undefined : errors.byField.slowModeSeconds} hint="How long members wait between two messages; admins are exempt">
          <select id="set-slow" value={slowChoice} onChange={(e) => setSlowChoice(e.target.value)} aria-invalid={!!errors.byField.slowModeSeconds}>
            {SLOW_MODE_CHOICES.map((sec) => (
              <option key={sec} value={String(sec)}>
                {sec === 0 ? 'Off' : formatDuration(sec)}
              </option>
            ))}
            <option value={CUSTOM}>Other…</option>
          </select>
        </Field>
        {slowChoice === CUSTOM && (
          <Field label="Seconds between messages" htmlFor="set-slow-seconds" error={errors.byField.slowModeSeconds} hint="0 (off) to 21600 (6 hours)">
            <input
              id="set-slow-seconds"
              type="number"
              min={0}
              max={21_600}
              inputMode="numeric"
              value={slowCustom}
              onChange={(e) => setSlowCustom(e.target.value)}
              aria-invalid={!!errors.byField.slowModeSeconds}
            />
          </Field>
        )}
        <div className={`field check-field${errors.byField.postingPolicy ? ' has-error' : ''}`}>
          <label htmlFor="set-admins-only" className="check">
            <input id="set-admins-only" type="checkbox" checked={adminsOnly} onChange={(e) => setAdminsOnly(e.target.checked)} />
            Only admins can post
          </label>
          {errors.byField.postingPolicy ? (
            <div className="field-error" id="set-admins-only-error" role="alert">
              {errors.byField.postingPolicy}
            </div>
          ) : (
            <div className="field-hint">An announcement room: members can read but not write.</div>
          )}
        </div>
        {errors.general && <Alert>{errors.general}</Alert>}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
      </form>
      {children}
      {canDelete && (
        <div className="danger-zone">
          <h3>Danger zone</h3>
          {confirmDelete ? (
            <div className="confirm">
              <span>Delete “{room.name}” and all its messages? This cannot be undone.</span>
              <button type="button" className="btn btn-sm btn-danger" onClick={del}>
                Delete room
              </button>
              <button type="button" className="btn btn-sm" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </div>
          ) : (
            <button type="button" className="btn btn-sm btn-danger-outline" onClick={() => setConfirmDelete(true)}>
              Delete room…
            </button>
          )}
          {deleteErr && <Alert>{deleteErr}</Alert>}
        </div>
      )}
    </div>
  );
}
