import { formatTime } from '../lib/format';

/** An instant in the user's time zone. */
export function TimeText({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return <time dateTime={iso}>{formatTime(iso)}</time>;
}
