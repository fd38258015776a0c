import type { Paged } from '../hooks/use-paged';

/** Previous / next page of a list. */
export function Pager({ list, label }: { list: Paged<unknown>; label: string }) {
  if (list.page === 1 && !list.hasNext) return null;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={list.previous} disabled={list.page === 1 || list.loading}>
        Previous
      </button>
      <span>Page {list.page}</span>
      <button type="button" onClick={list.next} disabled={!list.hasNext || list.loading}>
        Next
      </button>
    </nav>
  );
}
