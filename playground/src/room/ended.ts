// Why a room view ended, and which errors end it.
import type { AppError, AppErrorCode, Ejection, ErrorCode } from '../errors';

/** The codes after which the viewer can no longer be in the room. */
export type EndingCode = Extract<ErrorCode, 'BANNED' | 'FORBIDDEN' | 'NOT_FOUND' | 'UNAUTHENTICATED'>;

export interface Ended {
  code: EndingCode;
  title: string;
  detail?: string;
  /** A ban or a kick: who did it, why and (timed bans) until when, when known. */
  ejection?: Ejection;
}

const ENDING_CODES: ReadonlySet<AppErrorCode> = new Set<EndingCode>(['BANNED', 'FORBIDDEN', 'NOT_FOUND', 'UNAUTHENTICATED']);

export function isEnding(e: AppError): boolean {
  return ENDING_CODES.has(e.code);
}

/** A kick: "You were removed from lobby", "Removed by alice: off topic." */
export function removedEnded(roomName: string, ejection: Ejection): Ended {
  return {
    code: 'FORBIDDEN',
    title: `You were removed from ${roomName}`,
    detail: `Removed by ${ejection.by.username}${ejection.reason ? `: ${ejection.reason}` : ''}.`,
    ejection,
  };
}

export function endedFromError(e: AppError, roomName: string): Ended {
  switch (e.code) {
    case 'BANNED':
      // The banned view says who, why and until when from `ejection` (when the server sent it).
      return { code: 'BANNED', title: 'You are banned from this room', ejection: e.ejection };
    case 'NOT_FOUND':
      return { code: 'NOT_FOUND', title: `${roomName} was deleted`, detail: 'This room no longer exists.' };
    case 'UNAUTHENTICATED':
      return { code: 'UNAUTHENTICATED', title: 'Your session has expired', detail: 'Please sign out and sign in again.' };
    default:
      if (e.ejection) return removedEnded(roomName, e.ejection);
      return { code: 'FORBIDDEN', title: `You are no longer a member of ${roomName}`, detail: e.message };
  }
}

/**
 * The ending to show when a second one arrives: a ban's or a kick's feed errors and its
 * event race, and whichever comes first may lack who and why (an older server, a ban read
 * as it was lifted). Keep the first unless the later one says more: a ban beats any other
 * ending, and one that knows who did it beats one of the same kind that does not.
 */
export function mergeEnded(prev: Ended | null, next: Ended): Ended {
  if (!prev) return next;
  if (next.code === 'BANNED' && prev.code !== 'BANNED') return next;
  if (next.code === prev.code && !prev.ejection && next.ejection) return next;
  return prev;
}
