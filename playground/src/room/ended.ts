// Why a room view ended, and which errors end it.
import type { AppError, AppErrorCode, ErrorCode } from '../errors';

/** The codes after which the viewer can no longer be in the room. */
export type EndingCode = Extract<ErrorCode, 'BANNED' | 'FORBIDDEN' | 'NOT_FOUND' | 'UNAUTHENTICATED'>;

export interface Ended {
  code: EndingCode;
  title: string;
  detail?: string;
}

const ENDING_CODES: ReadonlySet<AppErrorCode> = new Set<EndingCode>(['BANNED', 'FORBIDDEN', 'NOT_FOUND', 'UNAUTHENTICATED']);

export function isEnding(e: AppError): boolean {
  return ENDING_CODES.has(e.code);
}

export function endedFromError(e: AppError, roomName: string): Ended {
  switch (e.code) {
    case 'BANNED':
      return { code: 'BANNED', title: `You were banned from ${roomName}`, detail: /reason/i.test(e.raw) ? e.raw : undefined };
    case 'NOT_FOUND':
      return { code: 'NOT_FOUND', title: `${roomName} was deleted`, detail: 'This room no longer exists.' };
    case 'UNAUTHENTICATED':
      return { code: 'UNAUTHENTICATED', title: 'Your session has expired', detail: 'Please sign out and sign in again.' };
    default:
      return { code: 'FORBIDDEN', title: `You are no longer a member of ${roomName}`, detail: e.message };
  }
}
