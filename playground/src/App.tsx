import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Provider, useQuery } from 'urql';
import { createClients, type Clients, type ConnectionState } from './client';
import { loadToken, saveToken } from './session';
import { ViewerQuery, LogoutMutation } from './operations';
import { AuthScreen } from './Auth';
import { Shell } from './Shell';
import { Spinner } from './ui';
import { toAppErrors } from './errors';

export function App() {
  const [token, setToken] = useState<string | null>(() => loadToken());
  const [conn, setConn] = useState<ConnectionState>('connecting');
  const clients = useMemo<Clients>(() => createClients(token, setConn), [token]);
  // Dispose clients that were replaced (sign in/out). Deferred and guarded so
  // React StrictMode's mount/unmount/mount does not kill the live client.
  const current = useRef(clients);
  current.current = clients;
  useEffect(
    () => () => {
      setTimeout(() => {
        if (current.current !== clients) clients.dispose();
      }, 0);
    },
    [clients],
  );

  const signIn = useCallback((t: string) => {
    saveToken(t);
    setToken(t);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await clients.urql.mutation(LogoutMutation, {}).toPromise();
    } finally {
      saveToken(null);
      setToken(null);
      history.replaceState(null, '', '/');
    }
  }, [clients]);

  // Another tab signed in/out: follow it.
  useEffect(() => {
    const onStorage = () => setToken(loadToken());
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);

  return (
    <Provider value={clients.urql}>
      {token ? (
        <Authed key={token} clients={clients} conn={conn} onSignOut={signOut} onExpired={() => { saveToken(null); setToken(null); }} />
      ) : (
        <AuthScreen onSignedIn={signIn} />
      )}
    </Provider>
  );
}

function Authed({
  clients,
  conn,
  onSignOut,
  onExpired,
}: {
  clients: Clients;
  conn: ConnectionState;
  onSignOut: () => void;
  onExpired: () => void;
}) {
  const [{ data, fetching, error }] = useQuery({ query: ViewerQuery, requestPolicy: 'network-only' });
  const viewer = data?.viewer;
  const expired = !fetching && ((data && !viewer) || toAppErrors(error).some((e) => e.code === 'UNAUTHENTICATED'));
  useEffect(() => {
    if (expired) onExpired();
  }, [expired, onExpired]);

  if (!viewer) {
    return (
      <div className="center-screen">
        {error && !fetching ? (
          <p className="muted">Cannot reach the server. Reload the page to try again.</p>
        ) : (
          <Spinner label="Loading your account" />
        )}
      </div>
    );
  }
  return <Shell me={viewer} clients={clients} conn={conn} onSignOut={onSignOut} />;
}
