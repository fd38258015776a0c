import type { ModelFormat } from '../../db/schema.js';

export interface FormatInfo {
  format: ModelFormat;
  /** `onnx` runs in the agent's onnx runtime; everything else needs a container image that serves it. */
  runtime: 'onnx' | 'container';
}

/** File endings, longest first so `.tar.gz` wins over `.gz`. */
const BY_EXTENSION: [string, FormatInfo][] = [
  ['.savedmodel.tar.gz', { format: 'tensorflow', runtime: 'container' }],
  ['.savedmodel.zip', { format: 'tensorflow', runtime: 'container' }],
  ['.tar.gz', { format: 'tensorflow', runtime: 'container' }],
  ['.joblib', { format: 'sklearn', runtime: 'container' }],
  ['.keras', { format: 'keras', runtime: 'container' }],
  ['.onnx', { format: 'onnx', runtime: 'onnx' }],
  ['.pkl', { format: 'sklearn', runtime: 'container' }],
  ['.pth', { format: 'pytorch', runtime: 'container' }],
  ['.tgz', { format: 'tensorflow', runtime: 'container' }],
  ['.zip', { format: 'tensorflow', runtime: 'container' }],
  ['.pt', { format: 'pytorch', runtime: 'container' }],
  ['.h5', { format: 'keras', runtime: 'container' }],
  ['.pb', { format: 'tensorflow', runtime: 'container' }],
];

/**
 * The format a file name announces, or undefined for one Meridian cannot serve. A TensorFlow SavedModel is a
 * directory, so it arrives as an archive (.tar.gz, .tgz, .zip); a lone .pb is a frozen graph.
 */
export function detectFormat(fileName: string): FormatInfo | undefined {
  const lower = fileName.toLowerCase();
  return BY_EXTENSION.find(([ending]) => lower.endsWith(ending))?.[1];
}

export const SUPPORTED_EXTENSIONS = BY_EXTENSION.map(([ending]) => ending).filter(
  (e) => !e.startsWith('.savedmodel'),
);
