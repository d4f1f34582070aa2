import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FinmeshError } from '../../src/core/errors.js';
import { isInfrastructureFailure } from '../../src/jobs/failures.js';

describe('a failure of the machinery, not of the data', () => {
  it('is told from bad data, so that a batch is retried rather than dead-lettered', () => {
    // What DuckDB says when an extension (httpfs, for a gs:// path) cannot be installed: no change is at fault.
    const noExtension = new Error(
      `Extension Autoloading Error: An error occurred while trying to automatically install the required extension 'httpfs':\nFailed to download extension "httpfs"`,
    );
    assert.equal(isInfrastructureFailure(noExtension), true);
    assert.equal(isInfrastructureFailure(new FinmeshError('DATA_INVALID', 'x', { cause: noExtension })), true, 'found through causes');
    assert.equal(isInfrastructureFailure(Object.assign(new Error('write failed'), { code: 'ENOSPC' })), true);
    assert.equal(isInfrastructureFailure(new Error('IO Error: No space left on device')), true);
    // A value the data holds that the engine refuses is the data's fault.
    assert.equal(isInfrastructureFailure(new Error('Conversion Error: Could not convert string "abc" to INT32')), false);
    assert.equal(isInfrastructureFailure(new Error('Invalid Input Error: Malformed JSON at byte 12 of input')), false);
  });
});
