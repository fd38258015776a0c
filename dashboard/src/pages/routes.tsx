import { type ReactNode, useEffect } from 'react';
import { matchPath, navigate, useLocation } from '../lib/router';
import { OnboardingPage } from '../onboarding/onboarding-page';
import { ApiKeysPage } from './api-keys-page';
import { AuditLogPage } from './audit-log-page';
import { BatchJobsPage } from './batch-jobs-page';
import { DeploymentPage } from './deployment-page';
import { DeploymentsPage } from './deployments-page';
import { ExperimentPage } from './experiment-page';
import { ExperimentsPage } from './experiments-page';
import { InvitationsPage } from './invitations-page';
import { MembersPage } from './members-page';
import { ModelPage } from './model-page';
import { ModelsPage } from './models-page';
import { NotebooksPage } from './notebooks-page';
import { RunPage } from './run-page';
import { UsagePage } from './usage-page';

const ROUTES: [string, (p: Record<string, string>) => ReactNode][] = [
  ['/', () => <OnboardingPage />],
  ['/welcome', () => <OnboardingPage />],
  ['/models', () => <ModelsPage />],
  ['/models/:id', (p) => <ModelPage id={p.id ?? ''} />],
  ['/deployments', () => <DeploymentsPage />],
  ['/deployments/:id', (p) => <DeploymentPage id={p.id ?? ''} />],
  ['/batch-jobs', () => <BatchJobsPage />],
  ['/experiments', () => <ExperimentsPage />],
  ['/experiments/:id', (p) => <ExperimentPage id={p.id ?? ''} />],
  ['/runs/:id', (p) => <RunPage id={p.id ?? ''} />],
  ['/notebooks', () => <NotebooksPage />],
  ['/keys', () => <ApiKeysPage />],
  ['/usage', () => <UsagePage />],
  ['/members', () => <MembersPage />],
  ['/invitations', () => <InvitationsPage />],
  ['/audit', () => <AuditLogPage />],
  // A logged-in user on the login or sign-up address (a bookmark, another tab, the back button) is in already.
  ['/login', () => <Redirect to="/" />],
  ['/signup', () => <Redirect to="/" />],
];

/** Goes to `to` in place of the current address (so Back does not return here). */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

export function Routes() {
  const { path } = useLocation();
  for (const [pattern, render] of ROUTES) {
    const params = matchPath(pattern, path);
    if (params) return <>{render(params)}</>;
  }
  return (
    <>
      <h1>Not found</h1>
      <p>No page at {path}.</p>
    </>
  );
}
