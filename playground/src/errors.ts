// Turning GraphQL errors (HTTP or graphql-ws) into messages a person can read.
import { CombinedError } from '@urql/core';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'ROOM_FULL'
  | 'BANNED'
  | 'MUTED'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR'
  | 'NETWORK'
  | 'UNKNOWN';

export interface AppError {
  code: ErrorCode;
  /** Human readable text to show. */
  message: string;
  /** The server's own message (may be more specific). */
  raw: string;
  /** Input field the error is about, when known. */
  field?: string;
}

interface GraphQLErrorLike {
  message?: string;
  extensions?: Record<string, unknown> | null;
}

const FRIENDLY: Partial<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: 'Your session has expired. Please sign in again.',
  FORBIDDEN: "You don't have permission to do that.",
  NOT_FOUND: 'That no longer exists.',
  ROOM_FULL: 'This room is full. Try again when someone leaves.',
  BANNED: 'You are banned from this room.',
  MUTED: 'You are muted in this room and cannot send messages right now.',
  RATE_LIMITED: 'You are doing that too often. Please slow down a little.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on the server. Please try again.',
  NETWORK: 'Cannot reach the server. Check your connection and try again.',
};

const KNOWN = new Set<string>([
  'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'ROOM_FULL',
  'BANNED', 'MUTED', 'RATE_LIMITED', 'INTERNAL_SERVER_ERROR',
]);

function fromGraphQLError(e: GraphQLErrorLike): AppError {
  const ext = e.extensions ?? {};
  const rawCode = typeof ext.code === 'string' ? ext.code : 'UNKNOWN';
  const code = (KNOWN.has(rawCode) ? rawCode : 'UNKNOWN') as ErrorCode;
  const raw = cleanMessage(e.message ?? 'Unknown error');
  const field = typeof ext.field === 'string' ? ext.field : guessField(raw);
  let message = FRIENDLY[code] ?? raw;
  // Keep specific server wording for codes whose text is already meant for users.
  if (code === 'FORBIDDEN' && raw && !/^forbidden$/i.test(raw)) message = sentence(raw);
  if (code === 'NOT_FOUND' && raw && !/^not found$/i.test(raw)) message = sentence(raw);
  if (code === 'MUTED' && typeof ext.mutedUntil === 'string') {
    const until = new Date(ext.mutedUntil);
    if (!Number.isNaN(until.getTime()))
      message = `You are muted in this room until ${until.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })} and cannot send messages.`;
  }
  if (code === 'BANNED' && /reason/i.test(raw)) message = `You are banned from this room. ${sentence(raw)}`;
  return { code, message, raw, field };
}

function cleanMessage(m: string): string {
  return m.replace(/^\[(GraphQL|Network)\]\s*/, '').trim();
}

function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  // Leave identifiers such as "maxUsers" as they are.
  const first = t.split(/\s/)[0];
  const cap = /[A-Z]/.test(first) ? t : t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(cap) ? cap : `${cap}.`;
}

/** Map a validation message to the input it is about, when the server gives no field. */
export function guessField(message: string): string | undefined {
  const m = message.toLowerCase();
  if (/max ?users|maxusers|capacity|member limit/.test(m)) return 'maxUsers';
  if (/topic/.test(m)) return 'topic';
  if (/username|user name/.test(m)) return 'username';
  if (/password/.test(m)) return 'password';
  if (/\bname\b|room name/.test(m)) return 'name';
  if (/\bbody\b|message (is )?(too|empty)|message must/.test(m)) return 'body';
  if (/reason/.test(m)) return 'reason';
  return undefined;
}

/** All errors contained in whatever a failed operation produced. */
export function toAppErrors(err: unknown): AppError[] {
  if (!err) return [];
  if (err instanceof CombinedError) {
    if (err.graphQLErrors.length) return err.graphQLErrors.map(fromGraphQLError);
    if (err.networkError) return [{ code: 'NETWORK', message: FRIENDLY.NETWORK!, raw: err.networkError.message }];
    return [{ code: 'UNKNOWN', message: cleanMessage(err.message), raw: err.message }];
  }
  if (Array.isArray(err)) return err.flatMap((e) => toAppErrors(e));
  if (typeof err === 'object' && err !== null) {
    const o = err as Record<string, unknown>;
    if (Array.isArray(o.errors)) return toAppErrors(o.errors);
    if ('extensions' in o || 'message' in o) {
      // A graphql-ws CloseEvent also has `reason`; treat it as network trouble.
      if ('code' in o && 'reason' in o && !('extensions' in o)) {
        return [{ code: 'NETWORK', message: FRIENDLY.NETWORK!, raw: String(o.reason || 'connection closed') }];
      }
      return [fromGraphQLError(o as GraphQLErrorLike)];
    }
    if ('code' in o && 'reason' in o) {
      return [{ code: 'NETWORK', message: FRIENDLY.NETWORK!, raw: String(o.reason || 'connection closed') }];
    }
  }
  if (err instanceof Error) return [{ code: 'UNKNOWN', message: err.message, raw: err.message }];
  return [{ code: 'UNKNOWN', message: String(err), raw: String(err) }];
}

export function toAppError(err: unknown): AppError {
  return toAppErrors(err)[0] ?? { code: 'UNKNOWN', message: 'Unknown error', raw: '' };
}

/** Split errors into per-field messages and a general one (for forms). */
export function fieldErrors(err: unknown, fields: string[]): { byField: Record<string, string>; general?: string } {
  const byField: Record<string, string> = {};
  const general: string[] = [];
  for (const e of toAppErrors(err)) {
    if (e.field && fields.includes(e.field) && (e.code === 'BAD_USER_INPUT' || e.code === 'CONFLICT' || e.code === 'UNKNOWN')) {
      byField[e.field] = sentence(e.raw);
    } else {
      general.push(e.code === 'BAD_USER_INPUT' || e.code === 'CONFLICT' ? sentence(e.raw) : e.message);
    }
  }
  return { byField, general: general.length ? general.join(' ') : undefined };
}
