// Writing and sending messages. Sends are queued so quick successive messages keep their
// order; a refused send gives the text back and shows why (e.g. MUTED).
import { useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useClient } from 'urql';
import { SendMessageMutation } from '../operations';
import { toAppError, type AppError } from '../errors';
import { formatDateTime } from '../util';
import { Icon } from '../icons';
import type { Msg } from './useRoomMessages';

export function Composer({
  roomId,
  muted,
  mutedUntil,
  onSent,
  onFatal,
}: {
  roomId: string;
  muted: boolean;
  mutedUntil: string | null;
  onSent: (m: Msg) => void;
  /** Called with a refusal; returns true when it ended the room view (then it is not shown here). */
  onFatal: (err: unknown) => boolean;
}) {
  const client = useClient();
  const [body, setBody] = useState('');
  const [err, setErr] = useState<AppError | null>(null);
  // Sends are queued so quick successive messages keep their order and none is dropped.
  const queue = useRef<Promise<void>>(Promise.resolve());
  const [pending, setPending] = useState(0);

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    const text = body.trim();
    if (!text) return;
    setBody('');
    setPending((n) => n + 1);
    queue.current = queue.current.then(async () => {
      const res = await client.mutation(SendMessageMutation, { roomId, body: text }).toPromise();
      setPending((n) => n - 1);
      if (res.data) {
        setErr(null);
        onSent(res.data.sendMessage);
      } else {
        // Give the text back so it is not lost.
        setBody((cur) => (cur ? cur : text));
        if (!onFatal(res.error)) setErr(toAppError(res.error));
      }
    });
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form className="composer" onSubmit={send} aria-label="Send a message">
      {err && (
        <div className={`composer-error${err.code === 'MUTED' ? ' is-muted' : ''}`} role="alert" data-testid="send-error" data-code={err.code}>
          {err.code === 'MUTED' && <Icon name="mute" />}
          {err.message}
          <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => setErr(null)}>
            ×
          </button>
        </div>
      )}
      {muted && !err && <div className="composer-hint"><Icon name="mute" /> You are muted{mutedUntil ? ` until ${formatDateTime(mutedUntil)}` : ''}.</div>}
      <div className="composer-row">
        <label htmlFor="composer-input" className="sr-only">
          Message
        </label>
        <textarea
          id="composer-input"
          rows={1}
          placeholder="Write a message…"
          value={body}
          maxLength={4000}
          onChange={(e) => setBody(e.target.value)}
          onKeyDown={onKey}
        />
        <button type="submit" className="btn btn-primary" disabled={!body.trim()} aria-busy={pending > 0}>
          Send
        </button>
      </div>
    </form>
  );
}
