// GraphiQL, bundled from npm (no CDN), talking to /graphql over HTTP and to
// graphql-ws (graphql-transport-ws) for subscriptions, with the app's token.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import { buildSchema, introspectionFromSchema } from 'graphql';
import committedSchema from '../../schema.graphql?raw';
import { loadToken, wsUrl } from './session';

const token = loadToken();
const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};

const wsClient = createClient({
  url: wsUrl(),
  lazy: true,
  connectionParams: () => {
    const t = loadToken();
    return t ? { token: t } : {};
  },
  retryAttempts: 3,
});

/**
 * Introspect the live server; if it refuses (e.g. its query depth limit rejects
 * GraphiQL's deep introspection query), fall back to the committed schema.graphql
 * that the playground was built against, so docs and autocompletion still work.
 */
const schemaFetcher: Fetcher = async (params) => {
  try {
    const res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(params),
    });
    const json = (await res.json()) as { data?: { __schema?: unknown } };
    if (json.data?.__schema) return json as never;
    console.warn('roomcast: live introspection failed, using the bundled schema.graphql', json);
  } catch (e) {
    console.warn('roomcast: live introspection failed, using the bundled schema.graphql', e);
  }
  return { data: introspectionFromSchema(buildSchema(committedSchema)) } as never;
};

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  headers,
  wsClient,
  schemaFetcher,
});

const defaultQuery = `# Welcome to the roomcast API.
# ${token ? 'You are signed in: your token is sent with every request.' : 'Sign in on the app first to act as a user.'}

query Rooms {
  viewer { id username }
  rooms(first: 10) {
    nodes { id name type topic memberCount }
  }
}
`;

// Shareable links: /graphiql?query=...&variables=... opens with that operation.
const params = new URLSearchParams(location.search);
const initialQuery = params.get('query') ?? undefined;
const initialVariables = params.get('variables') ?? undefined;

createRoot(document.getElementById('graphiql')!).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={defaultQuery}
    initialQuery={initialQuery}
    initialVariables={initialVariables}
    defaultEditorToolsVisibility={initialVariables ? 'variables' : false}
  />,
);
