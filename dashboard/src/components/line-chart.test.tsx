import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { chartNumber, LineChart } from './line-chart';

/** The chart's axis labels, in document order. */
function axisLabels(html: string): string[] {
  return [...html.matchAll(/<text[^>]*class="chart-axis"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] ?? '');
}

describe('LineChart', () => {
  it('labels a range by its ends', () => {
    const html = renderToStaticMarkup(
      <LineChart title="loss" points={[0.9, 0.5, 0.25].map((y, x) => ({ x, y }))} />,
    );
    expect(axisLabels(html)).toEqual(['0', '2', '0.9', '0.25']);
    expect(html).toContain('aria-label="loss: 3 points, from 0.25 to 0.9"');
    expect(html).toContain('(last: 0.25 at step 2)');
  });

  it('shows a single point once, in the middle, instead of repeating its value on both ends', () => {
    const html = renderToStaticMarkup(<LineChart title="loss" points={[{ x: 4, y: 0.5 }]} />);
    expect(axisLabels(html)).toEqual(['4', '0.5']);
    expect(html).toContain('cx="300" cy="100"');
    expect(html).toContain('aria-label="loss: 1 point, 0.5"');
    expect(html).not.toContain('NaN');
  });

  it('says when there is nothing to draw rather than labelling Infinity', () => {
    const html = renderToStaticMarkup(<LineChart title="loss" points={[]} />);
    expect(html).toContain('loss (no points yet)');
    expect(html).not.toContain('<svg');
    expect(html).not.toContain('Infinity');
  });
});

describe('chartNumber', () => {
  it('keeps integers and rounds floats to 4 significant digits', () => {
    expect(chartNumber(1234567)).toBe('1234567');
    expect(chartNumber(0.1 + 0.2)).toBe('0.3');
    expect(chartNumber(1.234567)).toBe('1.235');
    expect(chartNumber(-2.5)).toBe('-2.5');
  });
});
