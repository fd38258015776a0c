import type { MeridianClient, Operation, Success } from '@meridian/sdk';
import { createContext, useContext } from 'react';
import type { DashboardConfig } from './config';
import type { CookieSession } from './session';

export type Me = Success<Operation<'/v1/auth/me', 'get'>>;
export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface AppContextValue {
  client: MeridianClient;
  session: CookieSession;
  config: DashboardConfig;
  me: Me;
  role: Role;
  /** Reads /v1/auth/me again (after an org switch or a change of role). */
  reloadMe(): Promise<void>;
}

export const AppContext = createContext<AppContextValue | undefined>(undefined);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside AppContext');
  return value;
}

/** What each role may do, as the API decides it (control-plane/src/auth/permissions.ts); the API still checks. */
export const can = {
  write: (role: Role) => role !== 'viewer',
  manage: (role: Role) => role === 'owner' || role === 'admin',
  changePlan: (role: Role) => role === 'owner',
};
