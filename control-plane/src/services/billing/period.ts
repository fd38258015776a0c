/** The UTC calendar month containing `now`: [start, end) in ms. Plans, quotas and invoices run by it. */
export function calendarMonth(now: number): { start: number; end: number } {
  const at = new Date(now);
  return {
    start: Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1),
    end: Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1),
  };
}
