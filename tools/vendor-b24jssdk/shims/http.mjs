// Stands in for core/http/v2.mjs and core/http/v3.mjs (HttpV2, HttpV3: the REST
// client, with axios, qs-esm and the rate limiters behind it).
//
// B24Frame.init() constructs both right after getInitData, and B24Frame.setLogger()
// hands them the logger; nothing else in the frame code touches them. Every REST
// entry point (callMethod, actions.v2/v3, getHttpClient().call/batch, tools.ping,
// setRestrictionManagerParams) ends up here and throws JSSDK_SLIM_BUILD_UNAVAILABLE.
import { LoggerFactory } from '@sdk/logger/logger-factory.mjs';
import { ApiVersion } from '@sdk/types/b24.mjs';
import { unavailable } from './unavailable.mjs';

const WHY = 'the REST client (HttpV2/HttpV3, axios) is left out; Hourbook calls REST from its server';

class SlimHttp {
  _version;
  _logger;
  constructor(_authActions, _options, _restrictionParams) {
    this._logger = LoggerFactory.createNullLogger();
  }
  get apiVersion() { return this._version; }
  setLogger(logger) { this._logger = logger; }
  getLogger() { return this._logger; }

  get ajaxClient() { throw unavailable(`Http${this._version}.ajaxClient`, WHY); }
  // Synchronous throw on purpose: AbstractB24.setRestrictionManagerParams() awaits
  // these through Promise.allSettled, which would swallow a rejection.
  setRestrictionManagerParams() { throw unavailable('setRestrictionManagerParams()', WHY); }
  getRestrictionManagerParams() { throw unavailable('getRestrictionManagerParams()', WHY); }
  getStats() { throw unavailable('getHttpClient().getStats()', WHY); }
  async reset() { throw unavailable('getHttpClient().reset()', WHY); }
  async call(method) { throw unavailable(`REST call "${method}"`, WHY); }
  async batch() { throw unavailable('REST batch', WHY); }
  setClientSideWarning() { throw unavailable('setClientSideWarning()', WHY); }
  isServerSide() { throw unavailable('getHttpClient().isServerSide()', WHY); }
  getBaseUrl() { throw unavailable('getHttpClient().getBaseUrl()', WHY); }
}

export class HttpV2 extends SlimHttp {
  constructor(...args) { super(...args); this._version = ApiVersion.v2; }
}

export class HttpV3 extends SlimHttp {
  constructor(...args) { super(...args); this._version = ApiVersion.v3; }
}
