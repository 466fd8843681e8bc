// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'stuck-backend-shutdown',
  'DynamoDB hangs, stdout unread, only npm signalled or its parent SIGKILLed: every process gone within SHUTDOWN_TIMEOUT_MS + 5 s',
);
