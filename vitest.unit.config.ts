// `npm run test:unit`: the tests that need no Redis, no DynamoDB and no child process. Seconds, not
// minutes; `npm test` still runs everything (these included).
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  test: { ...base.test, include: ['test/unit/**/*.test.ts'], globalSetup: [] },
});
