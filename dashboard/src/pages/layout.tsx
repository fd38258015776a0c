import type { ReactNode } from 'react';
import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { useLocation } from '../lib/router';
import { OrgSwitcher } from './org-switcher';

const NAV = [
  ['/', 'Get started'],
  ['/models', 'Models'],
  ['/deployments', 'Deployments'],
  ['/batch-jobs', 'Batch jobs'],
  ['/experiments', 'Experiments'],
  ['/notebooks', 'Notebooks'],
  ['/keys', 'API keys'],
  ['/usage', 'Usage & billing'],
  ['/members', 'Members'],
  ['/audit', 'Audit log'],
] as const;

export function Layout({ children, onLogout }: { children: ReactNode; onLogout(): void }) {
  const { me, role } = useApp();
  const { path } = useLocation();
  const isCurrent = (to: string) => (to === '/' ? path === '/' || path === '/welcome' : path.startsWith(to));
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <AppLink to="/" className="brand">
          Meridian
        </AppLink>
        <OrgSwitcher />
        <span className="who">
          {me.user?.name ?? me.user?.email} <span className="badge">{role}</span>
        </span>
        <button type="button" onClick={onLogout}>
          Log out
        </button>
      </header>
      <nav className="sidenav" aria-label="Main">
        <ul>
          {NAV.map(([to, label]) => (
            <li key={to}>
              <AppLink to={to} current={isCurrent(to)}>
                {label}
              </AppLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
