import type { Schema } from '@meridian/sdk';
import { errorFromResponse } from '@meridian/sdk';
import { useEffect, useState } from 'react';
import { useApp } from '../api/context';
import { COOKIE_MODE } from '../api/session';
import { ErrorMessage } from '../components/error-message';
import { useAction } from '../hooks/use-action';
import { listPageOf, navigate } from '../lib/router';

/** The organisations the user belongs to; choosing one and pressing 'Switch to <name>'
 * gets tokens that name it (cookie mode). */
export function OrgSwitcher() {
  const { me, client, session, reloadMe } = useApp();
  const orgs = me.orgs ?? [me.org];
  const switchTo = useAction(async (orgId: string) => {
    const res = await client.authorized(`${client.baseUrl}/v1/auth/switch-org`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json', ...COOKIE_MODE },
      body: JSON.stringify({ orgId }),
    });
    if (!res.ok) throw await errorFromResponse(res);
    session.begin((await res.json()) as Schema<'TokenPair'>);
    // A page of one thing (a deployment, a run) names it by an id of the organisation left behind: the new
    // organisation would answer "not found". Its list is there in every organisation.
    const list = listPageOf(window.location.pathname);
    if (list !== window.location.pathname) navigate(list);
    await reloadMe();
  });
  // The switch is made by its own button: arrow keys on a focused select change its value (and fire change) at
  // every press, so switching on change would leave the organisation at the first key a keyboard user pressed.
  const [chosen, setChosen] = useState(me.org.id);
  useEffect(() => setChosen(me.org.id), [me.org.id]);
  const chosenOrg = orgs.find((org) => org.id === chosen);
  return (
    <span className="org-switcher">
      <label>
        <span className="visually-hidden">Organisation</span>
        <select
          value={chosen}
          disabled={switchTo.busy || orgs.length < 2}
          onChange={(e) => setChosen(e.target.value)}
        >
          {orgs.map((org) => (
            <option key={org.id} value={org.id}>
              {org.name}
            </option>
          ))}
        </select>
      </label>
      {chosenOrg === undefined || chosen === me.org.id ? null : (
        <button type="button" onClick={() => void switchTo.run(chosen)} disabled={switchTo.busy}>
          Switch to {chosenOrg.name}
        </button>
      )}
      <ErrorMessage error={switchTo.error} />
    </span>
  );
}
