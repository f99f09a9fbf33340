import type { ReactNode } from 'react';
import type { Role, RoomType } from './gql/graphql';
import { colorFor, initials, roleLabel, roomTypeLabel } from './util';
import { Icon } from './icons';

export function Avatar({ name, size = 32 }: { name: string; size?: number }) {
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ background: colorFor(name), width: size, height: size, fontSize: size * 0.4 }}
    >
      {initials(name)}
    </span>
  );
}

export function TypeBadge({ type }: { type: RoomType }) {
  return (
    <span className={`badge badge-${type.toLowerCase()}`} data-testid="room-type">
      <Icon name={type === 'PRIVATE' ? 'lock' : type === 'RESTRICTED' ? 'shield' : 'hash'} size={11} />
      {roomTypeLabel(type)}
    </span>
  );
}

export function RoleBadge({ role }: { role: Role }) {
  return <span className={`badge role-${role.toLowerCase()}`}>{roleLabel(role)}</span>;
}

export function Alert({ kind = 'error', children, onClose }: { kind?: 'error' | 'info' | 'warn' | 'success'; children: ReactNode; onClose?: () => void }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      <div className="alert-body">{children}</div>
      {onClose && (
        <button type="button" className="icon-btn" aria-label="Dismiss" onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}

export function Field({
  label,
  error,
  hint,
  children,
  htmlFor,
}: {
  label: string;
  error?: string;
  hint?: string;
  children: ReactNode;
  htmlFor: string;
}) {
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {error ? (
        <div className="field-error" id={`${htmlFor}-error`} role="alert">
          {error}
        </div>
      ) : hint ? (
        <div className="field-hint">{hint}</div>
      ) : null}
    </div>
  );
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return <span className="spinner" role="progressbar" aria-label={label} />;
}
