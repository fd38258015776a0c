export interface Point {
  x: number;
  y: number;
}

const WIDTH = 600;
const HEIGHT = 200;
const PAD = 30;

/**
 * A value as a label: integers as they are, others to 4 significant digits, so a logged loss of
 * 0.30000000000000004 reads 0.3 and a long float does not run over the chart.
 */
export function chartNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

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
  if (points.length === 0)
    return (
      <figure className="chart">
        <figcaption>{title} (no points yet)</figcaption>
      </figure>
    );
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  // A single step (or a flat line) sits in the middle, where a range would otherwise divide by zero.
  const sx = (x: number) => (x1 === x0 ? WIDTH / 2 : PAD + ((x - x0) / (x1 - x0)) * (WIDTH - 2 * PAD));
  const sy = (y: number) =>
    y1 === y0 ? HEIGHT / 2 : HEIGHT - PAD - ((y - y0) / (y1 - y0)) * (HEIGHT - 2 * PAD);
  const path = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
    .join(' ');
  const last = points.at(-1) as Point;
  const range = y0 === y1 ? chartNumber(y0) : `from ${chartNumber(y0)} to ${chartNumber(y1)}`;
  return (
    <figure className="chart">
      <figcaption>
        {title} (last: {chartNumber(last.y)} at {where(last.x)})
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${title}: ${points.length} ${points.length === 1 ? 'point' : 'points'}, ${range}`}
      >
        <path d={path} className="chart-line" fill="none" />
        {points.map((p) => (
          <circle key={p.x} cx={sx(p.x)} cy={sy(p.y)} r={2.5} className="chart-dot">
            <title>{`${where(p.x)}: ${chartNumber(p.y)}`}</title>
          </circle>
        ))}
        {x0 === x1 ? (
          <text x={WIDTH / 2} y={HEIGHT - 8} textAnchor="middle" className="chart-axis">
            {tick(x0)}
          </text>
        ) : (
          <>
            <text x={PAD} y={HEIGHT - 8} className="chart-axis">
              {tick(x0)}
            </text>
            <text x={WIDTH - PAD} y={HEIGHT - 8} textAnchor="end" className="chart-axis">
              {tick(x1)}
            </text>
          </>
        )}
        {y0 === y1 ? (
          <text x={4} y={HEIGHT / 2} className="chart-axis">
            {chartNumber(y0)}
          </text>
        ) : (
          <>
            <text x={4} y={PAD} className="chart-axis">
              {chartNumber(y1)}
            </text>
            <text x={4} y={HEIGHT - PAD} className="chart-axis">
              {chartNumber(y0)}
            </text>
          </>
        )}
      </svg>
    </figure>
  );
}
