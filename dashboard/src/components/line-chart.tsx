export interface Point {
  x: number;
  y: number;
}

const WIDTH = 600;
const HEIGHT = 200;
const PAD = 30;

/** One metric's history (value by step) as a line (SVG, no library). */
export function LineChart({
  title,
  points,
  formatX,
}: {
  title: string;
  points: Point[];
  /** How an x reads (a time series passes one); the default names it as a step. */
  formatX?: (x: number) => string;
}) {
  const where = formatX ?? ((x: number) => `step ${x}`);
  const tick = formatX ?? String;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => PAD + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - 2 * PAD);
  const sy = (y: number) => HEIGHT - PAD - ((y - y0) / (y1 - y0 || 1)) * (HEIGHT - 2 * PAD);
  const path = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
    .join(' ');
  const last = points.at(-1);
  return (
    <figure className="chart">
      <figcaption>
        {title}
        {last ? ` (last: ${last.y} at ${where(last.x)})` : ''}
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${title}: ${points.length} points from ${y0} to ${y1}`}
      >
        <path d={path} className="chart-line" fill="none" />
        {points.map((p) => (
          <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={2.5} className="chart-dot">
            <title>{`${where(p.x)}: ${p.y}`}</title>
          </circle>
        ))}
        <text x={PAD} y={HEIGHT - 8} className="chart-axis">
          {tick(x0)}
        </text>
        <text x={WIDTH - PAD} y={HEIGHT - 8} textAnchor="end" className="chart-axis">
          {tick(x1)}
        </text>
        <text x={4} y={PAD} className="chart-axis">
          {y1}
        </text>
        <text x={4} y={HEIGHT - PAD} className="chart-axis">
          {y0}
        </text>
      </svg>
    </figure>
  );
}
