// urql for queries/mutations over HTTP, graphql-ws for subscriptions.
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { wsUrl } from './session';

export interface Clients {
  urql: Client;
  ws: WsClient;
  dispose(): void;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting';

type Listener = (s: ConnectionState) => void;

export function createClients(token: string | null, onConnection?: Listener): Clients {
  const ws = createWsClient({
    url: wsUrl(),
    lazy: true,
    lazyCloseTimeout: 3000,
    // Read at every (re)connect so a fresh token is always used.
    connectionParams: () => (token ? { token } : {}),
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      const ms = Math.min(250 * 2 ** retries, 4000) + Math.random() * 250;
      await new Promise((r) => setTimeout(r, ms));
    },
    keepAlive: 15_000,
  });
  let everConnected = false;
  const offs = [
    ws.on('connecting', (isRetry) => onConnection?.(isRetry ? 'reconnecting' : 'connecting')),
    ws.on('connected', () => {
      everConnected = true;
      onConnection?.('connected');
    }),
    ws.on('closed', (ev) => {
      // 1000: closed on purpose (no subscriptions left, or signing out).
      const code = (ev as { code?: number } | undefined)?.code;
      onConnection?.(code === 1000 || !everConnected ? 'idle' : 'reconnecting');
    }),
  ];

  const urql = new Client({
    url: '/graphql',
    exchanges: [cacheExchange, fetchExchange],
    requestPolicy: 'cache-and-network',
    // roomcast accepts queries as POST only (GET is reserved for the WebSocket upgrade).
    preferGetMethod: false,
    fetchOptions: (): RequestInit => {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      return { headers };
    },
  });

  return {
    urql,
    ws,
    dispose() {
      offs.forEach((off) => off());
      void ws.dispose();
    },
  };
}

export interface LiveSink<T> {
  next(data: T): void;
  error(errors: unknown): void;
  complete?(): void;
}

/**
 * Start a typed subscription. Returns `{ variables, dispose }`; `variables` is
 * the very object graphql-ws re-sends when it re-subscribes after a reconnect,
 * so updating it (e.g. `after` = last seen cursor) makes the resumed
 * subscription start where the previous one stopped.
 */
export function subscribe<TData, TVars extends Record<string, unknown>>(
  ws: WsClient,
  doc: TypedDocumentNode<TData, TVars>,
  variables: TVars,
  sink: LiveSink<TData>,
): { variables: TVars; dispose: () => void } {
  const payload = { query: print(doc), variables };
  const dispose = ws.subscribe<TData>(payload, {
    next(result: ExecutionResult<TData>) {
      if (result.errors?.length) {
        sink.error(result.errors);
        return;
      }
      if (result.data) sink.next(result.data);
    },
    error(err) {
      sink.error(err);
    },
    complete() {
      sink.complete?.();
    },
  });
  return { variables: payload.variables, dispose };
}
