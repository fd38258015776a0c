import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';
import { notebookAccessUrl, notebookHostLabel, notebookIdOfHost } from './notebook-origin.js';

describe('notebook origins', () => {
  it('gives each notebook a host label of its own, and reads the notebook back from its host', () => {
    const id = newId('notebook');
    const label = notebookHostLabel(id);
    expect(label).toMatch(/^nb-[0-9a-z]{26}$/);
    expect(notebookIdOfHost(`${label}.notebooks.localhost:8787`, 'notebooks.localhost')).toBe(id);
    expect(notebookIdOfHost(`${label.toUpperCase()}.Notebooks.Example.com.`, 'notebooks.example.com')).toBe(
      id,
    );
  });

  it('reads no notebook from a host that is not a notebook origin under the domain', () => {
    const domain = 'notebooks.example.com';
    for (const host of [
      undefined,
      '',
      'edge.example.com',
      'notebooks.example.com',
      'nb-abc.notebooks.example.com.evil.test',
      'nb-abc.evilnotebooks.example.com',
      'x.nb-abc.notebooks.example.com',
      'nb_abc.notebooks.example.com',
      'nb-.notebooks.example.com',
    ])
      expect(notebookIdOfHost(host, domain), String(host)).toBeUndefined();
  });

  it('builds the access URL on the notebook origin with the edge URL’s scheme and port', () => {
    const id = 'nb_01jb3k2f8q';
    expect(notebookAccessUrl('http://127.0.0.1:8787', 'notebooks.localhost', id)).toBe(
      `http://nb-01jb3k2f8q.notebooks.localhost:8787/notebooks/${id}/`,
    );
    expect(notebookAccessUrl('https://edge.example.com/', 'notebooks.example.com', id)).toBe(
      `https://nb-01jb3k2f8q.notebooks.example.com/notebooks/${id}/`,
    );
    expect(notebookAccessUrl('http://[::1]:80/', 'notebooks.localhost', id)).toBe(
      `http://nb-01jb3k2f8q.notebooks.localhost/notebooks/${id}/`,
    );
    expect(() => notebookHostLabel('dep_01jb3k2f8q')).toThrow(/not a notebook id/);
  });
});
