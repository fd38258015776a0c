import { useApp } from '../api/context';
import { isNotFound } from '../lib/errors';
import { AppLink } from './app-link';
import { ErrorMessage } from './error-message';
import { PageHeader } from './page-header';

/**
 * What a page of one thing (a model, a deployment, a run) shows when it cannot load it: for an address that
 * names nothing in this organisation (deleted, another organisation's, mistyped) a page that says so and leads
 * back to the list; for any other failure the API's message.
 */
export function LoadFailure(props: { error: unknown; what: string; list: { to: string; name: string } }) {
  const { me } = useApp();
  if (!isNotFound(props.error)) return <ErrorMessage error={props.error} />;
  const what = props.what.toLowerCase();
  return (
    <>
      <PageHeader title={`${props.what} not found`} />
      <p>
        {`There is no ${what} at this address in ${me.org.name}: it may have been deleted, or it belongs to another organisation.`}
      </p>
      <p>
        <AppLink to={props.list.to}>{`Back to ${props.list.name}`}</AppLink>
      </p>
    </>
  );
}
