// Stands in for core/tools/manager.mjs (ToolsManager: ping, healthCheck — both
// REST requests). AbstractB24's constructor builds one and setLogger() passes the
// logger on; `b24.tools.ping` / `.healthCheck` throw.
import { LoggerFactory } from '@sdk/logger/logger-factory.mjs';
import { unavailable } from './unavailable.mjs';

const WHY = 'ping and healthCheck are REST requests, and the REST client is left out';

export class ToolsManager {
  _b24;
  _logger;
  constructor(b24) {
    this._b24 = b24;
    this._logger = LoggerFactory.createNullLogger();
  }
  setLogger(logger) { this._logger = logger; }
  getLogger() { return this._logger; }
  get ping() { throw unavailable('b24.tools.ping', WHY); }
  get healthCheck() { throw unavailable('b24.tools.healthCheck', WHY); }
}
