// `npm run generate:sdk`: rewrites sdk/src/generated/openapi.ts from the control plane's current routes.
import { writeFile } from 'node:fs/promises';
import { generateSdkTypes, SDK_TYPES_PATH } from './sdk-types.js';

await writeFile(SDK_TYPES_PATH, await generateSdkTypes());
console.info(`wrote ${SDK_TYPES_PATH}`);
