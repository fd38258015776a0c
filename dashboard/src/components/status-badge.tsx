const TONES: Record<string, string> = {
  ready: 'ok',
  running: 'ok',
  active: 'ok',
  finished: 'ok',
  online: 'ok',
  failed: 'bad',
  revoked: 'bad',
  expired: 'bad',
  killed: 'bad',
  stopped: 'idle',
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${TONES[status] ?? 'busy'}`}>{status}</span>;
}
