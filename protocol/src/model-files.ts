// Which model files Meridian takes, told by the file name's ending. The control plane refuses any other
// with 415; the SDK (and so the CLI) refuses it before sending a byte, in the same words. Imports nothing,
// so a client can take this one module without the rest of the package (its `./model-files` export).

/** The formats a model version can have. */
export type ModelFileFormat = 'onnx' | 'sklearn' | 'pytorch' | 'tensorflow' | 'keras';

export interface ModelFileInfo {
  format: ModelFileFormat;
  /** `onnx` runs in the agent's onnx runtime; everything else needs a container image that serves it. */
  runtime: 'onnx' | 'container';
}

/** File endings, longest first so `.tar.gz` wins over `.gz`. */
const BY_ENDING: readonly (readonly [string, ModelFileInfo])[] = [
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
export function detectModelFormat(fileName: string): ModelFileInfo | undefined {
  const lower = fileName.toLowerCase();
  return BY_ENDING.find(([ending]) => lower.endsWith(ending))?.[1];
}

/** The endings people are told about (`.savedmodel.zip` is only a longer `.zip`). */
export const MODEL_FILE_ENDINGS: readonly string[] = BY_ENDING.map(([ending]) => ending).filter(
  (ending) => !ending.startsWith('.savedmodel'),
);

/** The control plane's 415 message for a file name that announces no format Meridian takes. */
export function unknownModelFormatMessage(fileName: string): string {
  return `Unknown model format for ${JSON.stringify(fileName)}; supported endings: ${MODEL_FILE_ENDINGS.join(' ')}`;
}

/** Why a file of this name is refused (the control plane's 415 message), or undefined when it is taken. */
export function modelFileRefusal(fileName: string): string | undefined {
  return detectModelFormat(fileName) ? undefined : unknownModelFormatMessage(fileName);
}
