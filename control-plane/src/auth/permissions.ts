import type { Role } from '../db/schema.js';
import { forbidden } from '../errors.js';
import type { Principal } from '../http/context.js';

/** What a caller may do inside its org. Later resources (models, deployments) add their own. */
export type Permission = 'org:read' | 'org:write' | 'members:manage' | 'api_keys:manage' | 'audit:read';

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  owner: ['org:read', 'org:write', 'members:manage', 'api_keys:manage', 'audit:read'],
  admin: ['org:read', 'org:write', 'members:manage', 'api_keys:manage', 'audit:read'],
  member: ['org:read'],
  viewer: ['org:read'],
};

/** Which API-key scope grants a permission. Org management needs the `admin` scope. */
const SCOPE_FOR: Record<Permission, string> = {
  'org:read': 'admin',
  'org:write': 'admin',
  'members:manage': 'admin',
  'api_keys:manage': 'admin',
  'audit:read': 'admin',
};

export function can(principal: Principal, permission: Permission): boolean {
  if (principal.type === 'user') return ROLE_PERMISSIONS[principal.role].includes(permission);
  return principal.scopes.includes('admin') || principal.scopes.includes(SCOPE_FOR[permission]);
}

/** Throws 403 when the caller lacks `permission` in its own org. */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) {
    const who = principal.type === 'user' ? `role ${principal.role}` : 'this API key';
    throw forbidden(`${who} does not allow ${permission}`);
  }
}

/** Roles an actor may grant or take away: only owners touch the owner role. */
export function canAssignRole(actorRole: Role | 'api_key_admin', role: Role): boolean {
  if (role === 'owner') return actorRole === 'owner';
  return actorRole === 'owner' || actorRole === 'admin' || actorRole === 'api_key_admin';
}
