import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { describeEngineContract } from '../contracts/engine-contract.js';

describeEngineContract('duckdb', () => DuckDbEngine.create());
