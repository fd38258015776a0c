import type { Principal } from '../auth/principal.js';
import type { Role } from '../db/schema.js';
import { forbidden } from '../errors.js';

/** What a caller may do inside its org. Later resources (models, deployments) add their own. */
export type Permission =
  | 'org:read'
  | 'org:write'
  | 'members:manage'
  | 'api_keys:manage'
  | 'audit:read'
  | 'models:read'
  | 'models:write'
  | 'experiments:read'
  | 'experiments:write'
  | 'deployments:read'
  | 'deployments:write'
  | 'notebooks:read'
  | 'notebooks:write'
  | 'billing:read'
  | 'billing:write'
  | 'metrics:read';

const READ: readonly Permission[] = [
  'org:read',
  'metrics:read',
  'models:read',
  'experiments:read',
  'deployments:read',
  'notebooks:read',
];
const WRITE: readonly Permission[] = [
  'models:write',
  'experiments:write',
  'deployments:write',
  'notebooks:write',
];
const MANAGE: readonly Permission[] = ['org:write', 'members:manage', 'api_keys:manage', 'audit:read'];

// Usage and spend are for those who manage the org; choosing what it pays for is the owners' alone.
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  owner: [...READ, ...WRITE, ...MANAGE, 'billing:read', 'billing:write'],
  admin: [...READ, ...WRITE, ...MANAGE, 'billing:read'],
  member: [...READ, ...WRITE],
  viewer: READ,
};

/**
 * Which API-key scopes grant a permission (`admin` grants everything but user-only permissions, within the
 * key's role cap: the role of whoever made it, so an admin's `admin` key cannot change the plan). Experiments
 * are part of the model lifecycle, so the `models:*` scopes cover them; a write scope implies its read scope.
 */
const SCOPES_FOR: Record<Permission, readonly string[]> = {
  'org:read': [],
  'org:write': [],
  'members:manage': [],
  'api_keys:manage': [],
  'audit:read': [],
  'models:read': ['models:read', 'models:write'],
  'models:write': ['models:write'],
  'experiments:read': ['models:read', 'models:write'],
  'experiments:write': ['models:write'],
  'deployments:read': ['deployments:read', 'deployments:write'],
  'deployments:write': ['deployments:write'],
  'notebooks:read': [],
  'notebooks:write': [],
  'billing:read': ['billing:read'],
  'billing:write': [],
  'metrics:read': ['metrics'],
};

/** A notebook belongs to a user and hands out that user's server token, so no API key reaches it. */
const USER_ONLY: readonly Permission[] = ['notebooks:read', 'notebooks:write'];

export function can(principal: Principal, permission: Permission): boolean {
  if (principal.type === 'user') return ROLE_PERMISSIONS[principal.role].includes(permission);
  if (USER_ONLY.includes(permission)) return false;
  if (!ROLE_PERMISSIONS[principal.roleCap].includes(permission)) return false;
  return (
    principal.scopes.includes('admin') || SCOPES_FOR[permission].some((s) => principal.scopes.includes(s))
  );
}

const ROLE_RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

/** The lower of two roles: a key's cap after its maker's role changes. */
export function lowerRole(a: Role, b: Role): Role {
  return ROLE_RANK[a] <= ROLE_RANK[b] ? a : b;
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
