import type { ReactNode } from 'react';

/** A table that scrolls inside its own box on narrow screens, so the page never scrolls sideways. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <section className="table-wrap" tabIndex={0} aria-label={label}>
      <table>{children}</table>
    </section>
  );
}
