// Shared by the shims: the error a shimmed-out part of @bitrix24/b24jssdk throws.
// `@sdk/` is resolved by build.mjs to the package's own dist/esm/ files.
import { SdkError } from '@sdk/core/sdk-error.mjs';

export const SLIM = 'b24jssdk.frame.min.js (the slim frame build from tools/vendor-b24jssdk)';

export function unavailable(what, why) {
  return new SdkError({
    code: 'JSSDK_SLIM_BUILD_UNAVAILABLE',
    description: `${what} is not in ${SLIM}: ${why}. Use the full @bitrix24/b24jssdk build if the page needs it.`,
    status: 501
  });
}
