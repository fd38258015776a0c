/** The last `days` UTC days, today included, as the usage API groups them ('YYYY-MM-DD'). */
export function lastUtcDays(days: number, now = new Date()): { from: string; to: string; labels: string[] } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const DAY = 86_400_000;
  const labels = Array.from({ length: days }, (_, i) =>
    new Date(today - (days - 1 - i) * DAY).toISOString().slice(0, 10),
  );
  return {
    from: new Date(today - (days - 1) * DAY).toISOString(),
    to: new Date(today + DAY).toISOString(),
    labels,
  };
}
