// The scrolling list of a room's timeline: messages and system lines (joins, bans,
// renames…) in arrival order, day dividers, grouping of consecutive messages by one author
// (every message still has its time: in full as a tooltip, in short on hover or focus), a
// start-of-conversation marker once the history is loaded back to the first message,
// "load older" on scrolling to the top (keeping the view where it was), sticking to the
// bottom while the reader is there — also when the list itself gets shorter (a banner or
// a composer note appearing below it) or the window is resized — and, when the reader has
// scrolled up, a "Jump to latest" button counting the messages that arrived below. It
// reports the newest message on screen (for the read marker).
import { useEffect, useImperativeHandle, useLayoutEffect, useRef, useState, type ReactNode, type Ref } from 'react';
import type { Me } from '../Shell';
import { Avatar, Spinner } from '../ui';
import { formatDateTime, formatDay, formatTime } from '../util';
import { Icon } from '../icons';
import type { Msg, SystemLine } from './useRoomMessages';

export interface MessageListHandle {
  /** Scroll to the newest message on the next change (e.g. after sending one). */
  stickToBottom(): void;
}

/** Within this many pixels of the bottom, the reader is "at the bottom". */
const BOTTOM_SLACK = 80;

export function MessageList({
  ref,
  roomName,
  messages,
  system,
  initialLoaded,
  hasOlder,
  loadingOlder,
  onLoadOlder,
  onSeen,
  me,
  canDeleteAny,
  onDelete,
  onReport,
}: {
  ref?: Ref<MessageListHandle>;
  roomName: string;
  messages: Msg[];
  /** Lines that are not messages, in arrival order (see SystemLine.afterSeq). */
  system: SystemLine[];
  initialLoaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Load the previous page; `beforePrepend` must run right before it is added. */
  onLoadOlder: (beforePrepend: () => void) => Promise<void>;
  /** The newest message (at least partly) on screen, after anything came into view. */
  onSeen?: (m: Msg) => void;
  me: Me;
  canDeleteAny: boolean;
  /** Ask to delete a message (the caller confirms first). */
  onDelete: (m: Msg) => void;
  /** Report someone else's message to the room's admins. */
  onReport: (m: Msg) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const prevHeight = useRef<number | null>(null);
  const last = messages[messages.length - 1];
  const lastId = last?.id;
  const lastSeq = last?.seq ?? -Infinity;
  // The newest message the reader has had at the bottom of the view: what came after it
  // arrived below the fold (counted by the "Jump to latest" button).
  const [seenSeq, setSeenSeq] = useState(-Infinity);
  const newBelow = messages.length && lastSeq > seenSeq ? countAfter(messages, seenSeq) : 0;

  // Read through refs by the DOM handlers, which are set up once.
  const latest = useRef({ messages, onSeen, lastSeq });
  latest.current = { messages, onSeen, lastSeq };

  useImperativeHandle(ref, () => ({
    stickToBottom() {
      stick.current = true;
    },
  }), []);

  /** Report the newest message at least partly inside the scrolling box. */
  const reportSeen = () => {
    const el = scroller.current;
    const { onSeen: seen, messages: list } = latest.current;
    if (!el || !seen || !list.length) return;
    const box = el.getBoundingClientRect();
    const items = el.querySelectorAll<HTMLElement>('[data-testid="message"]');
    for (let i = items.length - 1; i >= 0; i--) {
      const r = items[i].getBoundingClientRect();
      if (r.bottom <= box.top) return;
      if (r.top < box.bottom && r.height > 0) {
        const id = items[i].dataset.messageId;
        const m = list.find((x) => x.id === id);
        if (m) seen(m);
        return;
      }
    }
  };

  const atBottom = (el: HTMLElement) => el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;

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
    if (stick.current || atBottom(el)) setSeenSeq(lastSeq);
    reportSeen();
  }, [messages, system, initialLoaded, lastSeq]);

  // The list's box changes size when something appears or goes below or above it, and its
  // content when a message grows (its time shown on hover on a narrow screen, a font
  // arriving): keep the newest message in view if the reader was at the bottom.
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
      reportSeen();
    });
    ro.observe(el);
    if (content.current) ro.observe(content.current);
    return () => ro.disconnect();
  }, []);

  // Back to a hidden tab: what is on screen now counts as read.
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible') reportSeen();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, []);

  const loadOlder = () =>
    onLoadOlder(() => {
      prevHeight.current = scroller.current?.scrollHeight ?? null;
    });

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = atBottom(el);
    if (stick.current) setSeenSeq(latest.current.lastSeq);
    reportSeen();
    if (el.scrollTop < 60) void loadOlder();
  };

  const jumpToLatest = () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = true;
    el.scrollTop = el.scrollHeight;
    setSeenSeq(lastSeq);
    reportSeen();
  };

  return (
    <div className="messages-wrap">
      <div className="messages" ref={scroller} onScroll={onScroll} data-testid="messages" aria-live="polite">
        <div className="messages-content" ref={content}>
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
          ) : messages.length === 0 && system.length === 0 ? (
            <div className="no-messages muted">
              <Icon name="wave" size={28} />
              <div>No messages yet. Say hello!</div>
            </div>
          ) : (
            <>
              {!hasOlder && messages.length > 0 && (
                <div className="conversation-start" data-testid="conversation-start">
                  <Icon name="hash" size={22} />
                  <div>
                    This is the start of <strong>{roomName}</strong>.
                  </div>
                </div>
              )}
              <TimelineItems list={messages} system={system} me={me} canDeleteAny={canDeleteAny} onDelete={onDelete} onReport={onReport} />
            </>
          )}
          <span data-last-id={lastId} hidden />
        </div>
      </div>
      {/* Only while the reader is away from the bottom: there, seenSeq follows the newest. */}
      {newBelow > 0 && (
        <button type="button" className="jump-latest" data-testid="jump-latest" data-count={newBelow} onClick={jumpToLatest}>
          {newBelow} new {newBelow === 1 ? 'message' : 'messages'} ↓
        </button>
      )}
    </div>
  );
}

/** How many of the (seq-ordered) messages come after `seq`. */
function countAfter(list: Msg[], seq: number): number {
  let n = 0;
  for (let i = list.length - 1; i >= 0 && list[i].seq > seq; i--) n++;
  return n;
}

type Item = { kind: 'msg'; m: Msg; at: string } | { kind: 'sys'; line: SystemLine; at: string };

/**
 * Messages in `seq` order with each system line after the newest message known when it
 * arrived (lines arrive in order, and that seq only grows, so a merge keeps both orders).
 */
export function mergeTimeline(list: Msg[], system: SystemLine[]): Item[] {
  const out: Item[] = [];
  let s = 0;
  for (const m of list) {
    while (s < system.length && system[s].afterSeq < m.seq) {
      out.push({ kind: 'sys', line: system[s], at: system[s].at });
      s++;
    }
    out.push({ kind: 'msg', m, at: m.createdAt });
  }
  for (; s < system.length; s++) out.push({ kind: 'sys', line: system[s], at: system[s].at });
  return out;
}

function TimelineItems({
  list,
  system,
  me,
  canDeleteAny,
  onDelete,
  onReport,
}: {
  list: Msg[];
  system: SystemLine[];
  me: Me;
  canDeleteAny: boolean;
  onDelete: (m: Msg) => void;
  onReport: (m: Msg) => void;
}) {
  let prev: Msg | undefined;
  let prevDay: string | undefined;
  const out: ReactNode[] = [];
  for (const item of mergeTimeline(list, system)) {
    const day = formatDay(item.at);
    if (day !== prevDay) {
      out.push(
        <div className="day-sep" data-testid="day-divider" key={`day-${item.kind === 'msg' ? item.m.id : item.line.id}`}>
          <span>{day}</span>
        </div>,
      );
      prevDay = day;
      prev = undefined;
    }
    if (item.kind === 'sys') {
      const { line } = item;
      out.push(
        <div className="system-line" data-testid="system-line" data-kind={line.kind} key={line.id}>
          <span className="system-text">{line.text}</span>
          <time dateTime={line.at} title={formatDateTime(line.at)}>
            {formatTime(line.at)}
          </time>
        </div>,
      );
      // A line between two messages of one author breaks their group.
      prev = undefined;
      continue;
    }
    const { m } = item;
    const grouped = !!prev && prev.author.id === m.author.id && new Date(m.createdAt).getTime() - new Date(prev.createdAt).getTime() < 5 * 60_000;
    const mine = m.author.id === me.id;
    const full = formatDateTime(m.createdAt);
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
              <time dateTime={m.createdAt} title={full} data-testid="message-time">
                {formatTime(m.createdAt)}
              </time>
            </div>
          )}
          <div className="msg-bubble" title={full}>
            <p className="msg-body" data-testid="message-body">{m.body}</p>
            {grouped && (
              // The group's first message shows its time; the others show theirs on hover or focus.
              <time className="msg-hover-time" dateTime={m.createdAt} title={full} data-testid="message-time">
                {formatTime(m.createdAt)}
              </time>
            )}
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
