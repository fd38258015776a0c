import { detectModelFormat, type ModelFileInfo, unknownModelFormatMessage } from '@meridian/protocol';
import { AppError } from '../../errors.js';

/**
 * A format and its runtime. The table of endings lives in @meridian/protocol, so the SDK and CLI refuse a
 * file locally, before uploading it, by the same rule and in the same words as the 415 below.
 */
export type FormatInfo = ModelFileInfo;

/** The format of `fileName`, or 415 naming the endings Meridian takes. */
export function formatOf(fileName: string): FormatInfo {
  const info = detectModelFormat(fileName);
  if (!info) throw new AppError('unsupported_media_type', unknownModelFormatMessage(fileName));
  return info;
}
