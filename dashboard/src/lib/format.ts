// Times are shown in the browser's own time zone, with the zone's name so a screenshot is unambiguous.
// (dateStyle / timeStyle cannot be combined with timeZoneName, hence the fields one by one.)
export const TIME_FORMAT: Intl.DateTimeFormatOptions = {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  timeZoneName: 'short',
};
const dateTime = new Intl.DateTimeFormat(undefined, TIME_FORMAT);

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** The calendar day (YYYY-MM-DD) of an instant in the browser's zone. */
export function localDay(date: Date): string {
  const y = date.getFullYear();
  const m = String(date.getMonth() + 1).padStart(2, '0');
  const d = String(date.getDate()).padStart(2, '0');
  return `${y}-${m}-${d}`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export const formatNumber = (n: number) => new Intl.NumberFormat().format(n);

export function shapeText(shape: number[]): string {
  return `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
}

/**
 * `2 calls`, `1 minute`, `1,440 MB-hours`: a quantity with the API's unit (always singular: call, minute,
 * MB-hour, month) made plural where it counts more or less than one.
 */
export const formatQuantity = (n: number, unit: string) =>
  `${formatNumber(n)} ${n === 1 ? unit : `${unit}s`}`;
