// What the slim build exposes as the global `B24Js` (the names are those of the
// official UMD build's `B24Js`). `@sdk/` = the package's dist/esm/ (see build.mjs).
export { initializeB24Frame } from '@sdk/loader-b24frame.mjs';
export { B24Frame } from '@sdk/frame/b24.mjs';
export { MessageCommands } from '@sdk/frame/message/commands.mjs';
export { SdkError } from '@sdk/core/sdk-error.mjs';
export { LoggerFactory } from '@sdk/logger/logger-factory.mjs';
export { LogLevel } from '@sdk/types/logger.mjs';
export { Text } from '@sdk/tools/text.mjs';
export { Type } from '@sdk/tools/type.mjs';
