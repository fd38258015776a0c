/** The org-wide quota's scope and its policy name (`:` keeps it apart from key limit names). */
export const QUOTA_SCOPE = 'org';
export const QUOTA_POLICY = 'org:monthly';
