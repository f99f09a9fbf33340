// The viewer's read position: the list reports the newest message on screen (when the
// room opens, when new messages come into view, when the tab becomes visible again), and
// this moves the read marker there with `markRead` — at most about once a second, and
// never backwards (the server ignores a cursor before the marker too).
import { useCallback, useEffect, useRef } from 'react';
import { useClient } from 'urql';
import { MarkReadMutation } from '../operations';
import type { Msg } from './useRoomMessages';

const MIN_INTERVAL_MS = 1000;

export function useMarkRead(roomId: string): (newestOnScreen: Msg) => void {
  const client = useClient();
  const st = useRef<{ sentSeq: number; pending: Msg | null; lastAt: number; timer?: ReturnType<typeof setTimeout> }>({
    sentSeq: -Infinity,
    pending: null,
    lastAt: 0,
  });

  const flush = useCallback(() => {
    const s = st.current;
    s.timer = undefined;
    const m = s.pending;
    if (!m || m.seq <= s.sentSeq) return;
    s.pending = null;
    s.sentSeq = m.seq;
    s.lastAt = Date.now();
    // Best effort: a refusal (e.g. the viewer was just removed) ends the view through the
    // live feeds, and a lost one is made good by the next.
    void client.mutation(MarkReadMutation, { roomId, cursor: m.cursor }).toPromise().then((res) => {
      if (res.error && st.current.sentSeq === m.seq) st.current.sentSeq = -Infinity;
    });
  }, [client, roomId]);

  // Leaving the room sends what was seen but not sent yet (the room list's badge for it
  // then goes to 0 instead of counting messages the viewer saw).
  useEffect(() => {
    const s = st.current;
    return () => {
      clearTimeout(s.timer);
      if (s.pending) flush();
    };
  }, [flush]);

  return useCallback(
    (m: Msg) => {
      if (typeof document !== 'undefined' && document.visibilityState !== 'visible') return;
      const s = st.current;
      if (m.seq <= s.sentSeq || (s.pending && m.seq <= s.pending.seq)) return;
      s.pending = m;
      if (s.timer) return;
      const wait = s.lastAt + MIN_INTERVAL_MS - Date.now();
      if (wait <= 0) flush();
      else s.timer = setTimeout(flush, wait);
    },
    [flush],
  );
}
