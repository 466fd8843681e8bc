// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'dynamo-faults',
  'DynamoDB throttling and 5xx at 30%: jobs succeed by retry, exhausted ones are dead-lettered with every attempt',
);
