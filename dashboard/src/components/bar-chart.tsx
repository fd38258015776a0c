export interface Bar {
  label: string;
  value: number;
}

const WIDTH = 600;
const HEIGHT = 200;
const AXIS = 24;

/** Bars with their values written on them (SVG, no library), scaled to the largest. */
export function BarChart({
  title,
  bars,
  unit,
  tick = (label) => label.slice(5),
}: {
  title: string;
  bars: Bar[];
  unit: string;
  /** The label under a bar; the default shortens a YYYY-MM-DD day to MM-DD. */
  tick?: (label: string) => string;
}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const slot = bars.length > 0 ? WIDTH / bars.length : WIDTH;
  const summary = bars.map((b) => `${b.label}: ${b.value} ${unit}`).join(', ');
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT + AXIS}`} role="img" aria-label={`${title}. ${summary}`}>
        {bars.map((bar, i) => {
          const h = (bar.value / max) * (HEIGHT - 20);
          const x = i * slot + slot * 0.15;
          return (
            <g key={bar.label} data-label={bar.label} data-value={bar.value} className="bar">
              <title>{`${bar.label}: ${bar.value} ${unit}`}</title>
              <rect x={x} y={HEIGHT - h} width={slot * 0.7} height={h} rx={2} />
              <text x={x + slot * 0.35} y={HEIGHT - h - 4} textAnchor="middle" className="chart-value">
                {bar.value}
              </text>
              <text x={x + slot * 0.35} y={HEIGHT + 16} textAnchor="middle" className="chart-axis">
                {tick(bar.label)}
              </text>
            </g>
          );
        })}
        <line x1={0} x2={WIDTH} y1={HEIGHT} y2={HEIGHT} className="chart-baseline" />
      </svg>
    </figure>
  );
}
