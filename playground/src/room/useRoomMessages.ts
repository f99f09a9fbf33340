// The messages of one room: the newest page of history, older pages on demand, and the
// live `roomMessages` subscription, which resumes after the last cursor seen (also after
// a reconnect). Messages are kept in `seq` order and de-duplicated by id. The timeline's
// system lines (joins, bans…) live here too, so they fall in with the messages in the
// order both arrived.
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { useClient } from 'urql';
import type { Clients } from '../client';
import { subscribe } from '../client';
import type { MessageFieldsFragment } from '../gql/graphql';
import { RoomMessagesQuery, RoomMessagesSubscription } from '../operations';
import { toAppError } from '../errors';

export type Msg = MessageFieldsFragment;

/**
 * A line in the timeline that is not a message: someone joined, left, was removed or
 * banned or unbanned, the room was renamed, messages were purged. It stands after the
 * newest message known when it arrived (`afterSeq`), so lines and messages read in the
 * order they arrived.
 */
export interface SystemLine {
  id: string;
  kind: 'join' | 'leave' | 'kick' | 'ban' | 'unban' | 'rename' | 'purge';
  text: string;
  /** When it arrived (RFC 3339): events carry no time of their own. */
  at: string;
  /** The `seq` of the newest message known when it arrived; -Infinity: none yet. */
  afterSeq: number;
}

export type NewSystemLine = Pick<SystemLine, 'kind' | 'text'>;

interface MsgState {
  list: Msg[];
  deleted: Set<string>;
  system: SystemLine[];
}

type MsgAction = { type: 'add'; msgs: Msg[] } | { type: 'delete'; ids: string[] } | { type: 'system'; line: NewSystemLine };

let systemIds = 0;

function msgReducer(state: MsgState, action: MsgAction): MsgState {
  switch (action.type) {
    case 'system': {
      // Messages and events come on two feeds; both go through this reducer, so the
      // newest message here is the newest that had arrived before this event.
      const afterSeq = state.list.length ? state.list[state.list.length - 1].seq : -Infinity;
      const line: SystemLine = { ...action.line, id: `sys-${++systemIds}`, at: new Date().toISOString(), afterSeq };
      return { ...state, system: [...state.system, line] };
    }
    case 'add': {
      const byId = new Map(state.list.map((m) => [m.id, m]));
      let changed = false;
      for (const m of action.msgs) {
        if (state.deleted.has(m.id) || byId.has(m.id)) continue;
        byId.set(m.id, m);
        changed = true;
      }
      if (!changed) return state;
      const list = [...byId.values()].sort((a, b) => a.seq - b.seq);
      return { ...state, list };
    }
    case 'delete': {
      const deleted = new Set(state.deleted);
      for (const id of action.ids) deleted.add(id);
      return { ...state, list: state.list.filter((m) => !deleted.has(m.id)), deleted };
    }
  }
}

interface Older {
  hasMore: boolean;
  cursor: string | null;
  loading: boolean;
}

export interface RoomMessages {
  /** The messages in `seq` order: no duplicates, none that were deleted. */
  list: Msg[];
  /** The first page of history has arrived (or failed to). */
  initialLoaded: boolean;
  /** There is history before the oldest message in `list`. */
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Fetch the page before the oldest message; `beforePrepend` runs right before it is added. */
  loadOlder: (beforePrepend?: () => void) => Promise<void>;
  /** Add messages (e.g. the result of sending one); known and deleted ones are ignored. */
  add: (msgs: Msg[]) => void;
  /** Drop messages and ignore them should they come again. */
  remove: (ids: string[]) => void;
  /** Lines that are not messages (joins, bans, renames…), in arrival order. */
  system: SystemLine[];
  /** Add a line after the newest message known now. */
  addSystem: (line: NewSystemLine) => void;
  /** Why history or live updates are not working right now, for a warning. */
  liveProblem: string | null;
  dismissLiveProblem: () => void;
}

export function useRoomMessages({
  roomId,
  clients,
  onFatal,
  onStreamEnded,
}: {
  roomId: string;
  clients: Clients;
  /** Called with a failure; returns true when it ended the room view (then it is not reported as a live problem). */
  onFatal: (err: unknown) => boolean;
  /** The server ended the stream without an error. */
  onStreamEnded: () => void;
}): RoomMessages {
  const client = useClient();
  const [state, dispatch] = useReducer(msgReducer, { list: [], deleted: new Set<string>(), system: [] });
  const [initialLoaded, setInitialLoaded] = useState(false);
  const [older, setOlder] = useState<Older>({ hasMore: false, cursor: null, loading: false });
  const [liveProblem, setLiveProblem] = useState<string | null>(null);

  // Latest callbacks, read through a ref so the subscription is only restarted when the
  // room (or the connection) changes.
  const cb = useRef({ onFatal, onStreamEnded });
  cb.current = { onFatal, onStreamEnded };

  useEffect(() => {
    let cancelled = false;
    let live: { variables: { roomId: string; after?: string | null }; dispose: () => void } | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let lastSeq = -Infinity;
    let lastCursor: string | null = null;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const fail = (err: unknown) => cb.current.onFatal(err);

    const take = (msgs: Msg[]) => {
      for (const m of msgs) {
        if (m.seq > lastSeq) {
          lastSeq = m.seq;
          lastCursor = m.cursor;
        }
      }
      // graphql-ws re-sends these variables when it re-subscribes after a
      // reconnect, so the server replays exactly what we have not seen yet.
      if (live) live.variables.after = lastCursor;
      if (msgs.length) dispatch({ type: 'add', msgs });
    };

    const fetchLatest = async (initial: boolean) => {
      const res = await client.query(RoomMessagesQuery, { roomId, last: 50 }, { requestPolicy: 'network-only' }).toPromise();
      if (cancelled) return;
      if (res.data) {
        const conn = res.data.messages;
        take(conn.nodes);
        if (initial) {
          setOlder({ hasMore: conn.pageInfo.hasPreviousPage, cursor: conn.pageInfo.startCursor ?? conn.nodes[0]?.cursor ?? null, loading: false });
          setInitialLoaded(true);
        }
      } else if (res.error && !fail(res.error) && initial) {
        setLiveProblem(toAppError(res.error).message);
        setInitialLoaded(true);
      }
    };

    const start = () => {
      if (cancelled) return;
      live = subscribe(clients.ws, RoomMessagesSubscription, { roomId, after: lastCursor }, {
        next: (d) => {
          setLiveProblem(null);
          take([d.roomMessages]);
        },
        error: (err) => {
          if (cancelled || fail(err)) return;
          setLiveProblem(`Live updates interrupted: ${toAppError(err).message}`);
          retry = setTimeout(start, 2000);
        },
        complete: () => {
          // The server ended the stream without an error: check we still belong here.
          if (!cancelled) cb.current.onStreamEnded();
        },
      });
    };

    // Catch up after every (re)connection too (covers an empty room where
    // there was no cursor to resume from).
    const offConnected = clients.ws.on('connected', () => {
      setLiveProblem(null);
      timers.push(setTimeout(() => void fetchLatest(false), 250));
    });

    void (async () => {
      await fetchLatest(true);
      if (cancelled) return;
      start();
      if (lastCursor === null) timers.push(setTimeout(() => void fetchLatest(false), 600));
    })();

    return () => {
      cancelled = true;
      clearTimeout(retry);
      timers.forEach(clearTimeout);
      offConnected();
      live?.dispose();
    };
  }, [roomId, clients, client]);

  const loadOlder = useCallback(
    async (beforePrepend?: () => void) => {
      if (!older.hasMore || older.loading || !older.cursor) return;
      setOlder((o) => ({ ...o, loading: true }));
      const res = await client.query(RoomMessagesQuery, { roomId, last: 50, before: older.cursor }, { requestPolicy: 'network-only' }).toPromise();
      if (res.data) {
        const conn = res.data.messages;
        if (conn.nodes.length) {
          beforePrepend?.();
          dispatch({ type: 'add', msgs: conn.nodes });
        }
        setOlder({ hasMore: conn.pageInfo.hasPreviousPage && conn.nodes.length > 0, cursor: conn.pageInfo.startCursor ?? conn.nodes[0]?.cursor ?? null, loading: false });
      } else {
        setOlder((o) => ({ ...o, loading: false }));
        setLiveProblem(toAppError(res.error).message);
      }
    },
    [older, client, roomId],
  );

  const add = useCallback((msgs: Msg[]) => dispatch({ type: 'add', msgs }), []);
  const remove = useCallback((ids: string[]) => dispatch({ type: 'delete', ids }), []);
  const dismissLiveProblem = useCallback(() => setLiveProblem(null), []);
  const addSystem = useCallback((line: NewSystemLine) => dispatch({ type: 'system', line }), []);

  return {
    list: state.list,
    initialLoaded,
    hasOlder: older.hasMore,
    loadingOlder: older.loading,
    loadOlder,
    add,
    remove,
    system: state.system,
    addSystem,
    liveProblem,
    dismissLiveProblem,
  };
}
