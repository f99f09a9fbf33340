import { cloneElement, isValidElement, type ReactElement, type ReactNode } from 'react';
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

/**
 * A labelled form control with its hint or error below. The control (the one child) is
 * given `aria-invalid` while there is an error and `aria-describedby` pointing at the error
 * (announced: role=alert) or the hint.
 */
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
  const describedBy = error ? `${htmlFor}-error` : hint ? `${htmlFor}-hint` : undefined;
  const control = isValidElement(children)
    ? cloneElement(children as ReactElement<Record<string, unknown>>, { 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })
    : children;
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {control}
      {error ? (
        <div className="field-error" id={`${htmlFor}-error`} role="alert">
          {error}
        </div>
      ) : hint ? (
        <div className="field-hint" id={`${htmlFor}-hint`}>
          {hint}
        </div>
      ) : null}
    </div>
  );
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return <span className="spinner" role="progressbar" aria-label={label} />;
}
