// Writing and sending messages. Sends are queued so quick successive messages keep their
// order; a refused send gives the text back and shows why, in words: muted, blocked
// content, slow mode (with a live countdown; Send is disabled until it reaches 0), or an
// announcement room where only admins post (then the composer is replaced by that notice).
// Enter sends (Shift+Enter: a new line); the box has the focus when the room opens.
// Typing tells the room (`setTyping`, at most once every 2 s while it goes on; stopped
// when the box is emptied or the room closed; sending a message stops it on the server).
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useClient } from 'urql';
import type { PostingPolicy, Role } from '../gql/graphql';
import { RoomQuery, SendMessageMutation, SetTypingMutation } from '../operations';
import { toAppError, type AppError } from '../errors';
import { formatDateTime, formatDuration } from '../util';
import { Icon } from '../icons';
import type { Msg } from './useRoomMessages';

/** Repeating setTyping(true) sooner than this announces nothing new (the server's rule). */
const TYPING_EVERY_MS = 2000;
/** The server forgets a typist this long after their last setTyping(true). */
const TYPING_LAPSE_MS = 6000;

/** A refusal that lifts by itself: count down to the time a send can succeed. */
interface Wait {
  until: number;
  slowMode: boolean;
}

export function Composer({
  roomId,
  role,
  muted,
  mutedUntil,
  slowModeSeconds,
  postingPolicy,
  onSent,
  onFatal,
}: {
  roomId: string;
  /** The viewer's role in the room. */
  role: Role;
  muted: boolean;
  mutedUntil: string | null;
  slowModeSeconds: number;
  postingPolicy: PostingPolicy;
  onSent: (m: Msg) => void;
  /** Called with a refusal; returns true when it ended the room view (then it is not shown here). */
  onFatal: (err: unknown) => boolean;
}) {
  const client = useClient();
  const [body, setBody] = useState('');
  const [err, setErr] = useState<AppError | null>(null);
  const [wait, setWait] = useState<Wait | null>(null);
  const [left, setLeft] = useState(0);
  // Sends are queued so quick successive messages keep their order and none is dropped.
  const queue = useRef<Promise<void>>(Promise.resolve());
  const [pending, setPending] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  // Slow mode and the announcement rule hold members; the owner and admins are exempt.
  const held = role === 'MEMBER';
  const slowMode = held && slowModeSeconds > 0;
  const locked = held && postingPolicy === 'ADMINS';

  // Opening a room puts the cursor in its composer (not on touch screens, where that would
  // pop up the keyboard over the messages).
  useEffect(() => {
    if (window.matchMedia?.('(pointer: coarse)').matches) return;
    input.current?.focus({ preventScroll: true });
  }, [roomId, locked]);

  // The countdown: refreshed a few times a second so it never lags by a whole second.
  useEffect(() => {
    if (!wait) return;
    const tick = () => {
      const s = Math.ceil((wait.until - Date.now()) / 1000);
      if (s <= 0) {
        setWait(null);
        setLeft(0);
      } else setLeft(s);
    };
    tick();
    const t = setInterval(tick, 250);
    return () => clearInterval(t);
  }, [wait]);

  // When this viewer last said they were typing (0: they are not, as far as the room knows).
  const typingSince = useRef(0);
  const canAnnounce = !muted && !locked;
  /** Tell the room whether the viewer is typing, from what the box holds now. */
  const announceTyping = (text: string) => {
    if (!canAnnounce) return;
    const now = Date.now();
    if (text.trim()) {
      if (now - typingSince.current < TYPING_EVERY_MS) return;
      typingSince.current = now;
      // Best effort: a refusal here is of no interest (sending says why, should it fail).
      void client.mutation(SetTypingMutation, { roomId, typing: true }).toPromise();
    } else if (typingSince.current) {
      typingSince.current = 0;
      void client.mutation(SetTypingMutation, { roomId, typing: false }).toPromise();
    }
  };
  // Leaving the room (or the page) while typing: stop at once rather than 6 s later.
  useEffect(
    () => () => {
      if (typingSince.current && Date.now() - typingSince.current < TYPING_LAPSE_MS) {
        typingSince.current = 0;
        void client.mutation(SetTypingMutation, { roomId, typing: false }).toPromise();
      }
    },
    [client, roomId],
  );

  // Slow mode switched off meanwhile: its wait no longer holds.
  useEffect(() => {
    if (!slowMode) setWait((w) => (w?.slowMode ? null : w));
  }, [slowMode]);

  /**
   * FORBIDDEN on sending means either that the viewer is no longer a member (the view
   * ends) or that the room just became an announcement room: ask the room which.
   */
  const forbidden = async (error: unknown) => {
    const res = await client.query(RoomQuery, { id: roomId }, { requestPolicy: 'network-only' }).toPromise();
    const room = res.data?.room;
    if (room?.viewerRole === 'MEMBER' && room.postingPolicy === 'ADMINS') {
      setErr({ code: 'FORBIDDEN', message: 'Only admins can post in this room.', raw: '' });
      return;
    }
    if (!onFatal(error)) setErr(toAppError(error));
  };

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    const text = body.trim();
    if (!text || wait) return;
    setBody('');
    // Sending ends typing on the server; the next keystroke says so again.
    typingSince.current = 0;
    setPending((n) => n + 1);
    queue.current = queue.current.then(async () => {
      const res = await client.mutation(SendMessageMutation, { roomId, body: text }).toPromise();
      setPending((n) => n - 1);
      if (res.data) {
        setErr(null);
        onSent(res.data.sendMessage);
        return;
      }
      // Give the text back so it is not lost.
      setBody((cur) => (cur ? cur : text));
      const ae = toAppError(res.error);
      if (ae.code === 'RATE_LIMITED' && ae.retryAfterSeconds !== undefined) {
        setErr(null);
        setWait({ until: Date.now() + ae.retryAfterSeconds * 1000, slowMode });
        return;
      }
      if (ae.code === 'FORBIDDEN') {
        await forbidden(res.error);
        return;
      }
      if (!onFatal(res.error)) setErr(ae);
    });
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  if (locked) {
    return (
      <div className="composer">
        <div className="composer-locked" role="status" data-testid="posting-closed">
          <Icon name="megaphone" /> Only admins can post in this room.
        </div>
      </div>
    );
  }

  return (
    <form className="composer" onSubmit={send} aria-label="Send a message">
      {wait ? (
        <div className="composer-error is-wait" id="composer-error" role="timer" data-testid="send-error" data-code="RATE_LIMITED" data-seconds={left}>
          <Icon name="clock" />
          {wait.slowMode ? `Slow mode: you can send again in ${left} s` : `You are sending messages too quickly: you can send again in ${left} s`}
        </div>
      ) : (
        err && (
          <div className={`composer-error${err.code === 'MUTED' ? ' is-muted' : ''}`} id="composer-error" role="alert" data-testid="send-error" data-code={err.code}>
            {err.code === 'MUTED' && <Icon name="mute" />}
            {err.message}
            <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => setErr(null)}>
              ×
            </button>
          </div>
        )
      )}
      {muted && !err && !wait && (
        <div className="composer-hint">
          <Icon name="mute" /> You are muted{mutedUntil ? ` until ${formatDateTime(mutedUntil)}` : ''}.
        </div>
      )}
      {slowMode && !muted && !err && !wait && (
        <div className="composer-note" data-testid="slow-mode-note">
          <Icon name="clock" size={13} /> Slow mode is on: you can send one message every {formatDuration(slowModeSeconds)}.
        </div>
      )}
      <div className="composer-row">
        <label htmlFor="composer-input" className="sr-only">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={input}
          rows={1}
          placeholder="Write a message…"
          value={body}
          maxLength={4000}
          onChange={(e) => {
            setBody(e.target.value);
            announceTyping(e.target.value);
          }}
          onKeyDown={onKey}
          aria-invalid={err && !wait ? true : undefined}
          aria-describedby={wait || err ? 'composer-error' : undefined}
        />
        <button type="submit" className="btn btn-primary" disabled={!body.trim() || !!wait} aria-busy={pending > 0}>
          Send
        </button>
      </div>
    </form>
  );
}
