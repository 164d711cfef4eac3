// Stands in for core/actions/manager.mjs (ActionsManager: call, callList, fetchList,
// batch, batchByChunk… for REST v2/v3). AbstractB24's constructor builds one and
// setLogger() passes the logger on; `b24.actions.v2` / `.v3` (and the deprecated
// callMethod/callListMethod/fetchListMethod/callBatch/callBatchByChunk that use
// them) throw.
import { LoggerFactory } from '@sdk/logger/logger-factory.mjs';
import { unavailable } from './unavailable.mjs';

const WHY = 'REST actions are left out with the REST client; Hourbook calls REST from its server';

export class ActionsManager {
  _b24;
  _logger;
  constructor(b24) {
    this._b24 = b24;
    this._logger = LoggerFactory.createNullLogger();
  }
  setLogger(logger) { this._logger = logger; }
  getLogger() { return this._logger; }
  get v2() { throw unavailable('b24.actions.v2 (REST v2)', WHY); }
  get v3() { throw unavailable('b24.actions.v3 (REST v3)', WHY); }
}
