// The scrolling list of a room's messages: day separators, grouping of consecutive
// messages by one author, "load older" on scrolling to the top (keeping the view where it
// was), and sticking to the bottom while the reader is there — also when the list itself
// gets shorter (a banner or a composer note appearing below it) or the window is resized.
import { useEffect, useImperativeHandle, useLayoutEffect, useRef, type ReactNode, type Ref } from 'react';
import type { Me } from '../Shell';
import { Avatar, Spinner } from '../ui';
import { formatDateTime, formatDay, formatTime } from '../util';
import { Icon } from '../icons';
import type { Msg } from './useRoomMessages';

export interface MessageListHandle {
  /** Scroll to the newest message on the next change (e.g. after sending one). */
  stickToBottom(): void;
}

export function MessageList({
  ref,
  messages,
  initialLoaded,
  hasOlder,
  loadingOlder,
  onLoadOlder,
  me,
  canDeleteAny,
  onDelete,
  onReport,
}: {
  ref?: Ref<MessageListHandle>;
  messages: Msg[];
  initialLoaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Load the previous page; `beforePrepend` must run right before it is added. */
  onLoadOlder: (beforePrepend: () => void) => Promise<void>;
  me: Me;
  canDeleteAny: boolean;
  /** Ask to delete a message (the caller confirms first). */
  onDelete: (m: Msg) => void;
  /** Report someone else's message to the room's admins. */
  onReport: (m: Msg) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const prevHeight = useRef<number | null>(null);
  const lastId = messages[messages.length - 1]?.id;

  useImperativeHandle(ref, () => ({
    stickToBottom() {
      stick.current = true;
    },
  }), []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (prevHeight.current !== null) {
      // Older messages were prepended: keep the view where it was.
      el.scrollTop += el.scrollHeight - prevHeight.current;
      prevHeight.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [messages]);

  // The list's box changes size when something appears or goes below or above it: keep the
  // newest message in view if the reader was at the bottom.
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const loadOlder = () =>
    onLoadOlder(() => {
      prevHeight.current = scroller.current?.scrollHeight ?? null;
    });

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 60) void loadOlder();
  };

  return (
    <div className="messages" ref={scroller} onScroll={onScroll} data-testid="messages" aria-live="polite">
      {hasOlder && (
        <div className="load-older">
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => void loadOlder()} disabled={loadingOlder}>
            {loadingOlder ? 'Loading…' : 'Load older messages'}
          </button>
        </div>
      )}
      {!initialLoaded ? (
        <div className="center-screen">
          <Spinner label="Loading messages" />
        </div>
      ) : messages.length === 0 ? (
        <div className="no-messages muted">
          <Icon name="wave" size={28} />
          <div>No messages yet. Say hello!</div>
        </div>
      ) : (
        <MessageItems list={messages} me={me} canDeleteAny={canDeleteAny} onDelete={onDelete} onReport={onReport} />
      )}
      <span data-last-id={lastId} hidden />
    </div>
  );
}

function MessageItems({
  list,
  me,
  canDeleteAny,
  onDelete,
  onReport,
}: {
  list: Msg[];
  me: Me;
  canDeleteAny: boolean;
  onDelete: (m: Msg) => void;
  onReport: (m: Msg) => void;
}) {
  let prev: Msg | undefined;
  const out: ReactNode[] = [];
  for (const m of list) {
    const day = formatDay(m.createdAt);
    if (!prev || formatDay(prev.createdAt) !== day) {
      out.push(
        <div className="day-sep" key={`day-${m.id}`}>
          <span>{day}</span>
        </div>,
      );
      prev = undefined;
    }
    const grouped = !!prev && prev.author.id === m.author.id && new Date(m.createdAt).getTime() - new Date(prev.createdAt).getTime() < 5 * 60_000;
    const mine = m.author.id === me.id;
    out.push(
      <article
        key={m.id}
        className={`msg${mine ? ' mine' : ''}${grouped ? ' grouped' : ''}`}
        data-testid="message"
        data-message-id={m.id}
        data-author={m.author.username}
      >
        {!mine && <div className="msg-avatar">{!grouped && <Avatar name={m.author.username} size={34} />}</div>}
        <div className="msg-content">
          {!grouped && (
            <div className="msg-meta">
              <span className="msg-author">{mine ? 'You' : m.author.username}</span>
              <time dateTime={m.createdAt} title={formatDateTime(m.createdAt)}>
                {formatTime(m.createdAt)}
              </time>
            </div>
          )}
          <div className="msg-bubble">
            <p className="msg-body" data-testid="message-body">{m.body}</p>
            <span className="msg-actions">
              {!mine && (
                <button type="button" className="msg-action" aria-label="Report message" title="Report message" onClick={() => onReport(m)}>
                  <Icon name="flag" size={14} />
                </button>
              )}
              {(canDeleteAny || mine) && (
                <button type="button" className="msg-action msg-delete" aria-label="Delete message" title="Delete message" onClick={() => onDelete(m)}>
                  <Icon name="trash" size={14} />
                </button>
              )}
            </span>
          </div>
        </div>
      </article>,
    );
    prev = m;
  }
  return <>{out}</>;
}
