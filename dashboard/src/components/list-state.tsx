import type { ReactNode } from 'react';
import type { Paged } from '../hooks/use-paged';
import { EmptyState } from './empty-state';
import { ErrorMessage } from './error-message';
import { Loading } from './loading';
import { Pager } from './pager';

/** A paginated list's loading, error and empty states around its rows, and its pager. */
export function ListState<T>(props: {
  list: Paged<T>;
  label: string;
  empty: ReactNode;
  /** The empty state's title when the list is filtered: "no … yet" would say nothing exists at all. */
  emptyTitle?: string;
  children: (items: T[]) => ReactNode;
}) {
  const { list } = props;
  return (
    <section aria-label={props.label} aria-busy={list.loading}>
      <ErrorMessage error={list.error} />
      {list.loading && list.items.length === 0 ? (
        <Loading what={`Loading ${props.label.toLowerCase()}`} />
      ) : null}
      {!list.loading && !list.error && list.items.length === 0 ? (
        <EmptyState title={props.emptyTitle ?? `No ${props.label.toLowerCase()} yet`}>
          {props.empty}
        </EmptyState>
      ) : null}
      {list.items.length > 0 ? props.children(list.items) : null}
      <Pager list={list as Paged<unknown>} label={props.label} />
    </section>
  );
}
