import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { GpuCountField } from './gpu-count-field';

describe('GpuCountField', () => {
  it('is a labelled number input from 1 to 8 for a GPU type', () => {
    const html = renderToStaticMarkup(<GpuCountField gpuType="t4" value={2} onChange={() => {}} />);
    // The label wraps its input, as the forms' other fields do.
    expect(html).toMatch(
      /^<label class="field"><span class="field-label">GPUs<\/span><input [^>]*\/><\/label>$/,
    );
    expect(html).toContain('type="number"');
    expect(html).toContain('min="1"');
    expect(html).toContain('max="8"');
    expect(html).toContain('value="2"');
  });

  it('is not there for cpu, which takes no GPUs', () => {
    expect(renderToStaticMarkup(<GpuCountField gpuType="cpu" value={1} onChange={() => {}} />)).toBe('');
  });
});
