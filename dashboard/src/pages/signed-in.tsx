import type { MeridianClient } from '@meridian/sdk';
import { useEffect, useMemo, useState } from 'react';
import type { DashboardConfig } from '../api/config';
import { AppContext, type AppContextValue, type Role } from '../api/context';
import type { CookieSession } from '../api/session';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { useLoad } from '../hooks/use-load';
import { Layout } from './layout';
import { Routes } from './routes';
import { SessionExpiredDialog } from './session-expired-dialog';

interface Props {
  config: DashboardConfig;
  session: CookieSession;
  client: MeridianClient;
  onLogout(): void;
}

/**
 * The app for a logged-in user. When the login ends under it (the refresh cookie expired or was revoked),
 * a login dialog opens over the page: nothing below unmounts, so a half-filled form survives.
 */
export function SignedIn({ config, session, client, onLogout }: Props) {
  const [expired, setExpired] = useState(false);
  const [orgVersion, setOrgVersion] = useState(0);
  const me = useLoad(() => client.request('get', '/v1/auth/me'), [orgVersion]);
  useEffect(() => session.subscribe((loggedIn) => setExpired(!loggedIn)), [session]);

  const value = useMemo<AppContextValue | undefined>(() => {
    if (!me.data) return undefined;
    return {
      client,
      session,
      config,
      me: me.data,
      role: (me.data.role ?? 'viewer') as Role,
      reloadMe: async () => setOrgVersion((v) => v + 1),
    };
  }, [me.data, client, session, config]);

  if (!value) {
    return me.error ? <ErrorMessage error={me.error} /> : <Loading what="Loading your account" />;
  }
  const logout = async () => {
    setExpired(false);
    await session.logout();
    onLogout();
  };
  return (
    <AppContext.Provider value={value}>
      <Layout onLogout={logout}>
        {/* A new org remounts every page, so none shows the previous org's data. */}
        <Routes key={value.me.org.id} />
      </Layout>
      {expired ? (
        <SessionExpiredDialog
          session={session}
          email={value.me.user?.email}
          onDone={() => setExpired(false)}
          onLogout={logout}
        />
      ) : null}
    </AppContext.Provider>
  );
}
