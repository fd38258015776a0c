const TONES: Record<string, string> = {
  ready: 'ok',
  running: 'ok',
  active: 'ok',
  finished: 'ok',
  completed: 'ok',
  online: 'ok',
  failed: 'bad',
  revoked: 'bad',
  expired: 'bad',
  killed: 'bad',
  stopped: 'idle',
  cancelled: 'idle',
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${TONES[status] ?? 'busy'}`}>{status}</span>;
}
