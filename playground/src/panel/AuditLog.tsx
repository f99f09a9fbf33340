// Admins: the room's moderation log in words ("alice banned bob: spam"), newest first,
// 20 at a time with "Load more" (moderationLog's after / endCursor).
import { useCallback, useEffect, useState } from 'react';
import { useClient } from 'urql';
import type { ModerationLogQuery as ModerationLogData } from '../gql/graphql';
import { ModerationLogQuery } from '../operations';
import { toAppError } from '../errors';
import { Alert, Avatar, Spinner } from '../ui';
import { formatDateTime, formatDuration } from '../util';

type Entry = NonNullable<ModerationLogData['room']>['moderationLog']['nodes'][number];

const PAGE = 20;

/** "slow mode 30 s, posting admins" (what a room update changed) → words for people. */
function roomChanges(summary: string): string {
  return summary
    .split(', ')
    .map((part) => {
      let m: RegExpExecArray | null;
      if ((m = /^type (\w+)$/i.exec(part))) return `made it ${m[1].toLowerCase()}`;
      if ((m = /^max users (\d+)$/i.exec(part))) return `member limit ${m[1]}`;
      if (/^max users none$/i.test(part)) return 'no member limit';
      if ((m = /^slow mode (\d+) s$/i.exec(part))) return Number(m[1]) === 0 ? 'slow mode off' : `slow mode ${formatDuration(Number(m[1]))}`;
      if (/^posting admins$/i.test(part)) return 'only admins can post';
      if (/^posting members$/i.test(part)) return 'everyone can post';
      return part;
    })
    .join(', ');
}

/** One entry as a sentence: who did what to whom, and the reason or what changed. */
export function describeEntry(e: Entry): string {
  const who = e.actor.username;
  const whom = e.target?.username ?? 'someone';
  const reason = e.reason?.trim() || '';
  const withReason = (s: string) => (reason ? `${s}: ${reason}` : s);
  switch (e.action) {
    case 'MEMBER_ADDED':
      return `${who} added ${whom}`;
    case 'MEMBER_REMOVED':
      return withReason(`${who} removed ${whom}`);
    case 'MEMBER_BANNED':
      return withReason(`${who} banned ${whom}`);
    case 'MEMBER_UNBANNED':
      return `${who} unbanned ${whom}`;
    case 'MEMBER_MUTED': {
      const m = /^for (\d+) s$/.exec(reason);
      return m ? `${who} muted ${whom} for ${formatDuration(Number(m[1]), 'long')}` : withReason(`${who} muted ${whom}`);
    }
    case 'MEMBER_UNMUTED':
      return `${who} unmuted ${whom}`;
    case 'ROLE_CHANGED':
      return /^admin$/i.test(reason) ? `${who} made ${whom} an admin` : /^member$/i.test(reason) ? `${who} made ${whom} a member` : withReason(`${who} changed ${whom}'s role`);
    case 'OWNERSHIP_TRANSFERRED':
      return `${who} made ${whom} the owner`;
    case 'JOIN_REQUEST_APPROVED':
      return `${who} let ${whom} join`;
    case 'JOIN_REQUEST_REJECTED':
      return `${who} turned down ${whom}'s request to join`;
    case 'MESSAGE_DELETED':
      return `${who} deleted a message by ${whom}`;
    case 'MESSAGES_PURGED':
      return reason ? `${who} deleted ${reason} by ${whom}` : `${who} deleted recent messages by ${whom}`;
    case 'ROOM_UPDATED':
      return reason ? `${who} changed the room settings: ${roomChanges(reason)}` : `${who} changed the room settings`;
    case 'BLOCKED_TERMS_CHANGED':
      return `${who} changed the blocked words`;
    case 'REPORT_RESOLVED':
      return withReason(e.target ? `${who} resolved a report about a message by ${whom}` : `${who} resolved a report`);
    case 'REPORT_DISMISSED':
      return withReason(e.target ? `${who} dismissed a report about a message by ${whom}` : `${who} dismissed a report`);
    case 'INVITE_CREATED':
      return `${who} created an invite link`;
    case 'INVITE_REVOKED':
      return `${who} revoked an invite link`;
    default: {
      const unhandled: never = e.action;
      return `${who}: ${String(unhandled).toLowerCase().replace(/_/g, ' ')}`;
    }
  }
}

interface LogState {
  entries: Entry[];
  cursor: string | null;
  hasMore: boolean;
  loading: boolean;
  error: string | null;
}

export function AuditLog({ roomId }: { roomId: string }) {
  const client = useClient();
  const [log, setLog] = useState<LogState>({ entries: [], cursor: null, hasMore: false, loading: true, error: null });

  /** The first page (`after` null) replaces the list; later pages are appended. */
  const load = useCallback(
    async (after: string | null) => {
      setLog((l) => ({ ...l, loading: true, error: null }));
      const res = await client.query(ModerationLogQuery, { id: roomId, first: PAGE, after }, { requestPolicy: 'network-only' }).toPromise();
      const conn = res.data?.room?.moderationLog;
      if (!conn) {
        setLog((l) => ({ ...l, loading: false, error: toAppError(res.error).message }));
        return;
      }
      setLog((l) => {
        const entries = after ? [...l.entries, ...conn.nodes.filter((n) => !l.entries.some((o) => o.id === n.id))] : conn.nodes;
        return { entries, cursor: conn.pageInfo.endCursor ?? null, hasMore: conn.pageInfo.hasNextPage, loading: false, error: null };
      });
    },
    [client, roomId],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <div className="audit-log">
      <div className="audit-head">
        <span className="muted small">Every moderation action in this room, newest first.</span>
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void load(null)} disabled={log.loading}>
          Refresh
        </button>
      </div>
      {log.error && <Alert>{log.error}</Alert>}
      <ul className="member-list">
        {!log.loading && !log.error && log.entries.length === 0 && <li className="muted small pad">Nothing has happened yet.</li>}
        {log.entries.map((e) => (
          <li key={e.id} className="member log-entry" data-testid="log-entry" data-action={e.action}>
            <div className="member-row">
              <Avatar name={e.actor.username} size={26} />
              <div className="member-info">
                <span className="log-text">{describeEntry(e)}</span>
                <time className="muted small" dateTime={e.createdAt}>
                  {formatDateTime(e.createdAt)}
                </time>
              </div>
            </div>
          </li>
        ))}
      </ul>
      <div className="load-older">
        {log.loading ? (
          <Spinner label="Loading the audit log" />
        ) : (
          log.hasMore && (
            <button type="button" className="btn btn-sm" onClick={() => void load(log.cursor)}>
              Load more
            </button>
          )
        )}
      </div>
    </div>
  );
}
