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

/** What a permission lets one do, as a refusal says it. */
const DOING: Record<Permission, string> = {
  'org:read': 'reading the organisation',
  'org:write': 'changing the organisation',
  'members:manage': 'managing members and invitations',
  'api_keys:manage': 'managing API keys',
  'audit:read': 'reading the audit log',
  'models:read': 'reading models',
  'models:write': 'changing models',
  'experiments:read': 'reading experiments',
  'experiments:write': 'changing experiments',
  'deployments:read': 'reading deployments',
  'deployments:write': 'changing deployments',
  'notebooks:read': 'reading notebooks',
  'notebooks:write': 'changing notebooks',
  'billing:read': 'reading usage and billing',
  'billing:write': 'changing the plan',
  'metrics:read': 'reading metrics',
};

/** The roles that hold `permission`, highest first: `owner or admin`, `owner, admin or member`. */
function rolesWith(permission: Permission): string {
  const roles = (Object.keys(ROLE_RANK) as Role[])
    .filter((role) => ROLE_PERMISSIONS[role].includes(permission))
    .sort((a, b) => ROLE_RANK[b] - ROLE_RANK[a]);
  const last = roles.pop();
  return roles.length > 0 ? `${roles.join(', ')} or ${last}` : String(last);
}

/**
 * Why `principal` may not do what `permission` allows, in words a person acts on: which roles may, or which
 * scope a key lacks (a refusal once read "role member does not allow api_keys:manage").
 */
function refusal(principal: Principal, permission: Permission): string {
  const doing = DOING[permission];
  const Doing = doing.charAt(0).toUpperCase() + doing.slice(1);
  if (principal.type === 'user') {
    const article = principal.role === 'admin' || principal.role === 'owner' ? 'an' : 'a';
    return `${Doing} needs the ${rolesWith(permission)} role; you are ${article} ${principal.role} here`;
  }
  if (USER_ONLY.includes(permission)) return `${Doing} is for users: no API key may do it`;
  if (!ROLE_PERMISSIONS[principal.roleCap].includes(permission))
    return `This API key does not allow ${doing}: it has the role of whoever made it, ${principal.roleCap}, and ${doing} needs ${rolesWith(permission)}`;
  const scopes = [...SCOPES_FOR[permission], 'admin'].join(' or ');
  return `This API key does not allow ${doing}: it needs the ${scopes} scope`;
}

/** Throws 403 when the caller lacks `permission` in its own org, saying who may. */
export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) throw forbidden(refusal(principal, permission));
}

/** Roles an actor may grant or take away: only owners touch the owner role. */
export function canAssignRole(actorRole: Role | 'api_key_admin', role: Role): boolean {
  if (role === 'owner') return actorRole === 'owner';
  return actorRole === 'owner' || actorRole === 'admin' || actorRole === 'api_key_admin';
}
