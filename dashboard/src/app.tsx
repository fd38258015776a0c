import { MeridianClient } from '@meridian/sdk';
import { useEffect, useState } from 'react';
import { type DashboardConfig, loadConfig } from './api/config';
import { CookieSession } from './api/session';
import { Loading } from './components/loading';
import { returnPath } from './lib/return-path';
import { navigate, useLocation } from './lib/router';
import { LoginPage } from './pages/login-page';
import { SignedIn } from './pages/signed-in';
import { SignupPage } from './pages/signup-page';

interface Boot {
  config: DashboardConfig;
  session: CookieSession;
  client: MeridianClient;
}

/** Loads the config, resumes a login from the refresh cookie if there is one, then shows the app or the login. */
export function App() {
  const [boot, setBoot] = useState<Boot>();
  const [status, setStatus] = useState<'starting' | 'in' | 'out'>('starting');
  const { path, query } = useLocation();

  useEffect(() => {
    void loadConfig().then(async (config) => {
      const session = new CookieSession(config.apiUrl, window.localStorage);
      const client = new MeridianClient({ baseUrl: config.apiUrl, edgeUrl: config.edgeUrl, tokens: session });
      setBoot({ config, session, client });
      try {
        await session.renew();
        setStatus('in');
      } catch {
        setStatus('out');
      }
    });
  }, []);

  if (!boot || status === 'starting') return <Loading what="Starting" />;
  const signedIn = (to: string) => {
    setStatus('in');
    navigate(to, { replace: true });
  };
  if (status === 'out') {
    // The address asked for (an invitation link's token with it) is where signing in or up goes on to.
    const back = returnPath(path, query);
    return path === '/signup' ? (
      <SignupPage session={boot.session} back={back} onDone={() => signedIn(back ?? '/welcome')} />
    ) : (
      <LoginPage session={boot.session} back={back} onDone={() => signedIn(back ?? '/')} />
    );
  }
  return (
    <SignedIn
      {...boot}
      onLogout={() => {
        setStatus('out');
        navigate('/login', { replace: true });
      }}
    />
  );
}
