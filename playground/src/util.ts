import type { Role, RoomType } from './gql/graphql';

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function formatDay(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric' });
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function roomTypeLabel(t: RoomType): string {
  switch (t) {
    case 'PUBLIC':
      return 'Public';
    case 'PRIVATE':
      return 'Private';
    case 'RESTRICTED':
      return 'Restricted';
  }
}

export function roleLabel(r: Role): string {
  switch (r) {
    case 'OWNER':
      return 'Owner';
    case 'ADMIN':
      return 'Admin';
    case 'MEMBER':
      return 'Member';
  }
}

export const isAdmin = (r: Role | null | undefined): boolean => r === 'OWNER' || r === 'ADMIN';

/** Whether `viewer` may moderate (mute/kick/ban) someone with role `target`. */
export function canModerate(viewer: Role | null | undefined, target: Role): boolean {
  if (viewer === 'OWNER') return target !== 'OWNER';
  if (viewer === 'ADMIN') return target === 'MEMBER';
  return false;
}

const COLORS = ['#4f46e5', '#0891b2', '#059669', '#d97706', '#dc2626', '#7c3aed', '#db2777', '#2563eb', '#65a30d'];

export function colorFor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return COLORS[h % COLORS.length];
}

export function initials(name: string): string {
  const parts = name.split(/[._\-\s]+/).filter(Boolean);
  const s = parts.length >= 2 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
  return s.toUpperCase();
}

/**
 * A length of time in words: `short` for settings and countdowns ("30 s", "5 min", "1 h",
 * "1 h 30 min"), `long` for sentences ("30 seconds", "1 hour", "7 days").
 */
export function formatDuration(seconds: number, style: 'short' | 'long' = 'short'): string {
  const units: [number, string, string, string][] = [
    [86_400, 'day', 'days', 'days'],
    [3600, 'hour', 'hours', 'h'],
    [60, 'minute', 'minutes', 'min'],
    [1, 'second', 'seconds', 's'],
  ];
  let rest = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [size, one, many, short] of units) {
    const n = Math.floor(rest / size);
    if (n === 0) continue;
    rest -= n * size;
    parts.push(style === 'short' && size < 86_400 ? `${n} ${short}` : `${n} ${n === 1 ? one : many}`);
    if (parts.length === 2) break;
  }
  if (!parts.length) return style === 'short' ? '0 s' : '0 seconds';
  return parts.join(style === 'short' ? ' ' : ' and ');
}
